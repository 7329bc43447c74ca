/**
 * The three example services as separate processes against the real Redis, a real SMTP server
 * (smtp-server on loopback) and a local Zipkin collector: what a user deploys, checked end to end.
 */
import autocannon from 'autocannon';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnifiedAuthMiddleware } from '../../src/auth/index.js';
import { ROLES, USER_AUDIENCE, USER_ISSUER } from '../../examples/shared/dev-config.js';
import { startSmtpPeer, type SmtpPeer } from '../helpers/communication-peers.js';
import { startService, type ServiceProcess, waitUntil } from '../helpers/e2e-process.js';
import { TraceCollector } from '../helpers/monitoring-collector.js';
import { connectShared, deleteKeys, REDIS_URL, testPrefix } from '../helpers/redis.js';

const USER_SECRET = 'e2e-user-token-secret-0123456789abcdefghij';
const SERVICE_SECRET = 'e2e-service-token-secret-0123456789abcdefgh';

describe('example services end to end', () => {
  const prefix = testPrefix('e2e');
  let redis: Redis;
  let collector: TraceCollector;
  let smtp: SmtpPeer;
  let knowledge: ServiceProcess;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let env: Record<string, string>;
  const tokens: Record<'ada' | 'grace' | 'bob', string> = { ada: '', grace: '', bob: '' };

  const call = async (path: string, token: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> => {
    const response = await fetch(`${api.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, unknown> };
  };
  const flowState = async (flowId: string): Promise<Record<string, unknown>> => (await call(`/api/workspaces/w-acme/flows/${flowId}`, tokens.ada)).json;
  const createFlow = async (title: string): Promise<string> => {
    const { status, json } = await call('/api/workspaces/w-acme/flows', tokens.ada, { method: 'POST', body: { title, description: 'e2e', topic: 'checkout' } });
    expect(status).toBe(202);
    return json['flowId'] as string;
  };
  const startWorker = (extra: Record<string, string> = {}): Promise<ServiceProcess> =>
    startService('worker', 'examples/worker/main.ts', { ...env, PORT: '0', KNOWLEDGE_URL: knowledge.url, PUBLIC_URL: api.url, ...extra });

  beforeAll(async () => {
    redis = connectShared();
    collector = new TraceCollector();
    const zipkin = await collector.start();
    smtp = await startSmtpPeer('accept');
    env = {
      REDIS_URL,
      UXFLOW_PREFIX: prefix,
      AUTH_JWT_SECRET: USER_SECRET,
      AUTH_SERVICE_SECRET: SERVICE_SECRET,
      EMAIL_TRACKING_SECRET: 'e2e-tracking-secret-0123456789abcdefghijkl',
      ENABLE_TRACING: 'true',
      TRACE_SAMPLE_RATE: '1',
      ZIPKIN_ENDPOINT: zipkin,
      EMAIL_PROVIDER: 'smtp',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      QUEUE_LOCK_MS: '1500',
      QUEUE_STALLED_MS: '300',
      ENABLE_SYSTEM_METRICS: 'false',
    };
    knowledge = await startService('knowledge-service', 'examples/knowledge-service/main.ts', { ...env, PORT: '0' });
    api = await startService('flow-api', 'examples/flow-api/main.ts', { ...env, PORT: '0', KNOWLEDGE_URL: knowledge.url });
    worker = await startWorker();
    const issuer = new UnifiedAuthMiddleware({ userTokens: { issuer: USER_ISSUER, audience: USER_AUDIENCE, secret: USER_SECRET, algorithms: ['HS256'] }, roles: ROLES });
    tokens.ada = await issuer.issueUserToken({ subject: 'u-ada' });
    tokens.grace = await issuer.issueUserToken({ subject: 'u-grace' });
    tokens.bob = await issuer.issueUserToken({ subject: 'u-bob' });
    await issuer.close();
  }, 120_000);

  afterAll(async () => {
    await Promise.all([worker, api, knowledge].filter((s) => s !== undefined).map((s) => s.stop()));
    await deleteKeys(redis, prefix);
    await redis.quit();
    await smtp?.close();
    await collector?.stop();
  }, 60_000);

  it('carries one trace id from flow-api through the queue and the worker to knowledge-service', async () => {
    const flowId = await createFlow('Trace me');
    const done = await waitUntil('the flow to complete', async () => {
      const state = await flowState(flowId);
      return state['state'] === 'completed' ? state : undefined;
    });
    expect((done['result'] as { steps: number }).steps).toBeGreaterThan(0);

    const indexSpan = (): (typeof collector.spans)[number] | undefined =>
      collector.spans.find((s) => s.service === 'knowledge-service' && s.kind === 'SERVER' && s.name === 'POST /internal/flows');
    await collector.waitFor(() => {
      const span = indexSpan();
      if (span === undefined) return false;
      const services = new Set(collector.spans.filter((s) => s.traceId === span.traceId).map((s) => `${s.service}:${s.kind}`));
      return ['flow-api:SERVER', 'flow-api:PRODUCER', 'flow-worker:CONSUMER', 'flow-worker:CLIENT'].every((k) => services.has(k));
    }, 20_000);
    const trace = collector.spans.filter((s) => s.traceId === indexSpan()!.traceId);
    const names = trace.map((s) => `${s.service} ${s.kind} ${s.name}`);
    expect(names).toContain('flow-api SERVER POST /api/workspaces/:workspaceId/flows');
    expect(names).toContain('flow-api PRODUCER send flows');
    expect(names).toContain('flow-worker CONSUMER process flows');
    expect(names).toContain('knowledge-service SERVER POST /internal/flows');
    // flow-api's own call for guidelines belongs to the same trace too.
    expect(names).toContain('knowledge-service SERVER GET /internal/guidelines');
    expect(collector.problems).toEqual([]);
  });

  it('delivers the invitation over SMTP with a signed click-tracking link that redirects, and refuses a tampered one', async () => {
    const { status } = await call('/api/workspaces/w-acme/invitations', tokens.ada, { method: 'POST', body: { email: 'lin@example.com' } });
    expect(status).toBe(202);
    await smtp.waitFor(1);
    const mail = smtp.received[0]!;
    expect(mail.envelope.to).toEqual(['lin@example.com']);
    expect(mail.parsed.subject).toContain('Acme Checkout');
    const html = typeof mail.parsed.html === 'string' ? mail.parsed.html : '';
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!).filter((href) => href.startsWith(`${api.url}/email/t/c/`));
    expect(links.length).toBeGreaterThan(0);

    const followed = await fetch(links[0]!, { redirect: 'manual' });
    expect(followed.status).toBe(302);
    expect(followed.headers.get('location')).toBe(`${api.url}/invitations/accept?workspace=w-acme&email=lin%40example.com`);

    const token = links[0]!.slice(links[0]!.lastIndexOf('/') + 1);
    const flipped = `${token.slice(0, -3)}${token.at(-3) === 'A' ? 'B' : 'A'}${token.slice(-2)}`;
    const tampered = await fetch(`${api.url}/email/t/c/${flipped}`, { redirect: 'manual' });
    expect(tampered.status).toBe(400);
    expect(tampered.headers.get('location')).toBeNull();
  });

  it('answers 403 insufficient_scope to a user without the role', async () => {
    const overview = await call('/api/admin/overview', tokens.bob);
    expect(overview.status).toBe(403);
    expect(overview.json['error']).toBe('insufficient_scope');
    expect(overview.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const write = await call('/api/workspaces/w-acme/flows', tokens.bob, { method: 'POST', body: { title: 'x', description: 'y' } });
    expect(write.status).toBe(403);
    expect(write.json['error']).toBe('insufficient_scope');
    const admin = await call('/api/admin/overview', tokens.grace);
    expect(admin.status).toBe(200);
    expect((admin.json['queue'] as { counts: { completed: number } }).counts.completed).toBeGreaterThanOrEqual(1);
  });

  it('exposes request, queue and email series on /metrics', async () => {
    const apiMetrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(apiMetrics).toMatch(/http_server_requests_total\{[^}]*route="\/api\/workspaces\/:workspaceId\/flows"[^}]*\} [1-9]/);
    expect(apiMetrics).toMatch(/queue_jobs\{[^}]*state="completed"[^}]*\} [1-9]/);
    expect(apiMetrics).toMatch(/prompt_served_total\{[^}]*template="flow-outline"/);
    const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(workerMetrics).toMatch(/queue_jobs_finished_total\{[^}]*type="ai_processing"[^}]*outcome="completed"[^}]*\} [1-9]/);
    expect(workerMetrics).toMatch(/queue_jobs\{[^}]*queue="flows"[^}]*state="completed"[^}]*\} [1-9]/);
    expect(workerMetrics).toMatch(/queue_job_duration_seconds_bucket\{[^}]*type="ai_processing"/);
    expect(workerMetrics).toMatch(/queue_oldest_waiting_age_seconds\{[^}]*queue="flows"[^}]*\} /);
    // The email service's own series (metricsRegistry: the monitor's registry).
    expect(workerMetrics).toMatch(/email_messages_sent_total\{[^}]*provider="smtp"[^}]*template="workspace-invitation"[^}]*\} 1/);
    expect(workerMetrics).toMatch(/email_send_duration_seconds_bucket\{[^}]*provider="smtp"/);
    // The click on the tracked link was counted by flow-api's email router.
    expect(apiMetrics).toMatch(/email_delivery_events_total\{[^}]*event="clicked"[^}]*source="tracking"[^}]*\} 1/);
  });

  it('redelivers the job of a worker killed mid-job to another worker, which completes it', async () => {
    expect(await worker.stop()).toBe(0);
    const doomed = await startWorker({ LLM_LATENCY_MS: '60000' });
    const flowId = await createFlow('Survive a crash');
    await waitUntil('the slow worker to take the job', async () => ((await flowState(flowId))['state'] === 'active' ? true : undefined));
    await doomed.kill();
    worker = await startWorker();
    const done = await waitUntil('the second worker to complete the job', async () => {
      const state = await flowState(flowId);
      return state['state'] === 'completed' ? state : undefined;
    });
    expect((done['result'] as { steps: number }).steps).toBeGreaterThan(0);
  });

  it('serves 1,000 concurrent connections on an authenticated read without an error', async () => {
    // A fixed amount of work (5 requests per connection), so the assertions do not depend on the machine's speed.
    const result = await autocannon({
      url: `${api.url}/api/workspaces/w-acme/flows`,
      connections: 1000,
      amount: 5000,
      timeout: 30,
      headers: { authorization: `Bearer ${tokens.ada}` },
    });
    process.stdout.write(`flow-api, 1,000 connections: ${result.requests.average} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms\n`);
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result['2xx']).toBe(5000);
  }, 90_000);
});
