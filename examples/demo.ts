/**
 * `npm run demo`: the three example services in one process, a scripted scenario against them,
 * a readable summary, then serving until Ctrl-C (`--once`: exit after the summary, non-zero when
 * the scenario did not go as expected).
 *
 * Redis from REDIS_URL (default 127.0.0.1:6379) when it answers, else the in-memory drivers.
 * Emails go to `.outbox/` (EMAIL_DEV_DIR); their tracked links point at flow-api. Traces: to ZIPKIN_ENDPOINT / JAEGER_ENDPOINT when set, to the console
 * with `--traces`, nowhere otherwise.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import { createConsoleLogger } from '@ux-flow/common';
import { MemoryEmailStore } from '@ux-flow/common/communication';
import { MemoryQueueBackend } from '@ux-flow/common/queue';
import type { Redis } from 'ioredis';
import { createFlowApi } from './flow-api/app.js';
import { createKnowledgeService } from './knowledge-service/app.js';
import { connectRedis, DEMO_USERS, JOBS, redisHost } from './shared/dev-config.js';
import { closeServer, openServer, type ServiceRuntime } from './shared/service-kit.js';
import { createWorker, SIMULATED_OUTAGE } from './worker/worker.js';

const args = new Set(process.argv.slice(2));
const once = args.has('--once');
const consoleTraces = args.has('--traces');
const out = (line = ''): void => void process.stdout.write(`${line}\n`);
const step = (text: string): void => void process.stdout.write(`  • ${text} … `);

async function openOn(preferred: number): Promise<{ server: Server; url: string }> {
  try {
    return await openServer(preferred);
  } catch {
    return openServer(0); // taken: any free port
  }
}

async function outboxFiles(dir: string): Promise<Set<string>> {
  try {
    return new Set((await readdir(dir)).filter((name) => name.endsWith('.eml')));
  } catch {
    return new Set();
  }
}

/** The click-tracking links (`<base>/email/t/c/<signed token>`) in an email's HTML preview. */
async function trackedLinks(dir: string, eml: string, apiUrl: string): Promise<string[]> {
  const html = await readFile(join(dir, eml.replace(/\.eml$/, '.html')), 'utf8');
  return [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&')).filter((href) => href.startsWith(`${apiUrl}/email/t/c/`));
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

interface Overview {
  queue: { counts: Record<string, number> };
  deadLetters: { id: string; type: string; attempts: number; error?: string }[];
  email: Record<string, number>;
  prompts: { template: string; experiment?: string; arms: { id: string; traffic: number; quality?: number; probabilityBest?: number; retired: boolean }[] };
}

async function main(): Promise<number> {
  out('UX Flow demo: @ux-flow/common with three services (flow-api, worker, knowledge-service)\n');
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redis = await connectRedis(redisUrl);
  const prefix = `uxflow-demo:${randomBytes(3).toString('hex')}`;
  out(
    redis !== undefined
      ? `Redis at ${redisHost(redisUrl)}: queue, email state and prompt statistics live there (keys under "${prefix}:", removed on exit).`
      : `Redis not reachable at ${redisHost(redisUrl)}: using the in-memory drivers (everything in this process; set REDIS_URL to use yours).`,
  );

  const endpoint = process.env['ZIPKIN_ENDPOINT'] ?? process.env['JAEGER_ENDPOINT'];
  const exporter = endpoint !== undefined ? undefined : consoleTraces ? 'console' : 'none';
  out(`Traces: ${endpoint !== undefined ? `exported to ${endpoint}` : consoleTraces ? 'printed to the console' : 'kept in-process (pass --traces, or set ZIPKIN_ENDPOINT / JAEGER_ENDPOINT)'}.\n`);

  const logger = createConsoleLogger({ level: 'error', bindings: { demo: true } });
  const runtime: ServiceRuntime = {
    // Without Redis, flow-api and the worker share the in-memory queue and email state of this process.
    ...(redis === undefined ? { memoryBackend: new MemoryQueueBackend(), emailStore: new MemoryEmailStore() } : { redis }),
    prefix,
    logger,
    enableTracing: true,
    tracing: { sampleRate: 1, ...(exporter === undefined ? {} : { exporter }), logger },
  };
  const outbox = resolve(process.env['EMAIL_DEV_DIR'] ?? '.outbox');
  const emailsBefore = await outboxFiles(outbox);

  step('starting the services');
  const base = Number(process.env['DEMO_PORT'] ?? 3000);
  const port = (offset: number): number => (base === 0 ? 0 : base + offset); // DEMO_PORT=0: any free ports
  const [apiHttp, workerHttp, knowledgeHttp] = [await openOn(port(0)), await openOn(port(1)), await openOn(port(2))];
  const knowledge = createKnowledgeService(runtime);
  knowledgeHttp.server.on('request', knowledge.app);
  const api = await createFlowApi({ ...runtime, knowledgeUrl: knowledgeHttp.url, publicUrl: apiHttp.url });
  apiHttp.server.on('request', api.app);
  const worker = await createWorker({
    ...runtime,
    knowledgeUrl: knowledgeHttp.url,
    publicUrl: apiHttp.url,
    ...(redis === undefined ? { optimizer: api.optimizer } : {}),
  });
  workerHttp.server.on('request', worker.app);
  out(`flow-api ${apiHttp.url}, worker ${workerHttp.url}, knowledge-service ${knowledgeHttp.url}`);

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (shuttingDown ??= (async () => {
      await Promise.all([apiHttp, workerHttp, knowledgeHttp].map(({ server }) => closeServer(server)));
      await worker.close();
      await api.close();
      await knowledge.close();
      if (redis !== undefined) {
        await deleteKeys(redis, prefix);
        await redis.quit();
      }
    })());

  const statuses = new Map<number, number>();
  const call = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${apiHttp.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };

  try {
    step('issuing development tokens for Ada (workspace owner), Grace (admin) and Bob (viewer)');
    const [ada, grace, bob] = await Promise.all(DEMO_USERS.map((user) => api.auth.issueUserToken({ subject: user.id, ttlSec: 3600 })));
    out('done');

    const ideas = [
      ['Sign-up', 'New users create an account and a first workspace', 'onboarding'],
      ['Checkout', 'Guest checkout with card payment', 'checkout'],
      ['Invite teammates', 'Owners invite colleagues by email', 'onboarding'],
      ['Cancel subscription', 'Self-service cancellation with a retention offer', 'general'],
      ['Reorder', 'Repeat a past order in two taps', 'checkout'],
      ['Password reset', 'Reset by email link', 'general'],
    ] as const;
    step(`creating ${ideas.length} flows (the AI block picks the prompt, the worker runs it)`);
    const flowIds: string[] = [];
    for (const [index, [title, description, topic]] of ideas.entries()) {
      const { status, json } = await call('POST', '/api/workspaces/w-acme/flows', index % 2 === 0 ? ada! : grace!, { title, description, topic });
      expect(status === 202, `POST flow "${title}" answered ${status}`);
      if (typeof json['flowId'] === 'string') flowIds.push(json['flowId']);
    }
    out(`${flowIds.length} accepted (202)`);

    step('creating one flow while the model is down (it retries, then lands in the dead-letter list)');
    const failing = await call('POST', '/api/workspaces/w-acme/flows', ada!, { title: 'Export data', description: `GDPR export ${SIMULATED_OUTAGE}`, topic: 'general' });
    expect(failing.status === 202, `failing flow answered ${failing.status}`);
    out('accepted (202)');

    step('sending two workspace invitations (email_send jobs, rendered with the invitation template)');
    const invitations = await Promise.all(['lin@example.com', 'sam@example.com'].map((email) => call('POST', '/api/workspaces/w-acme/invitations', ada!, { email })));
    expect(invitations.every((r) => r.status === 202), 'an invitation was not accepted');
    out(`${invitations.filter((r) => r.status === 202).length} queued (202)`);

    step('Bob (viewer) asks for the admin overview');
    const forbidden = await call('GET', '/api/admin/overview', bob!);
    expect(forbidden.status === 403 && forbidden.json['error'] === 'insufficient_scope', `forbidden call answered ${forbidden.status} ${String(forbidden.json['error'])}`);
    out(`${forbidden.status} ${String(forbidden.json['error'])} (${String(forbidden.json['code'])}), as it should`);

    step('waiting for the worker');
    const deadline = Date.now() + 30_000;
    const jobIds = [...flowIds.map((id) => `flow:${id}`), `flow:${String(failing.json['flowId'])}`, ...invitations.map((r) => String(r.json['jobId']))];
    for (;;) {
      const states = await Promise.all(jobIds.map(async (id) => (await api.messageQueue.getJob(id))?.state));
      if (states.every((state) => state === 'completed' || state === 'failed')) break;
      if (Date.now() > deadline) {
        problems.push(`jobs still unfinished after 30 s: ${states.join(', ')}`);
        break;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    out('all jobs finished');

    const written = [...(await outboxFiles(outbox))].filter((name) => !emailsBefore.has(name));
    const emailsWritten = written.length;
    step('following the tracked link of an invitation (signed, counted as a click, then redirected)');
    const links = written.length === 0 ? [] : await trackedLinks(outbox, written[0]!, apiHttp.url);
    const click = links.length === 0 ? undefined : await fetch(links[0]!, { redirect: 'manual' });
    const landing = click?.headers.get('location') ?? '';
    expect(click?.status === 302 && landing.startsWith(`${apiHttp.url}/invitations/accept`), `the tracked link answered ${click?.status ?? 'nothing'} (${landing || 'no redirect'})`);
    out(click === undefined ? 'no tracked link found' : `${click.status} to ${landing.replace(apiHttp.url, '')}`);

    const overview = (await call('GET', '/api/admin/overview', grace!)).json as unknown as Overview;
    const counts = overview.queue.counts;
    expect(counts['completed'] === flowIds.length + 2, `expected ${flowIds.length + 2} completed jobs, got ${counts['completed']}`);
    expect(overview.deadLetters.some((job) => job.type === JOBS.ai && job.attempts === 3), 'the failing flow is not in the dead-letter list after 3 attempts');
    expect(emailsWritten === 2, `expected 2 emails in ${outbox}, found ${emailsWritten}`);
    expect(overview.email['sent'] === 2 && overview.email['clicked'] === 1, `expected 2 sent and 1 clicked in the email statistics, got ${JSON.stringify(overview.email)}`);

    out('\nSummary');
    out(`  Requests to flow-api: ${[...statuses].sort(([a], [b]) => a - b).map(([code, n]) => `${n} × ${code}`).join(', ')}`);
    out(`  Jobs: ${counts['completed']} completed, ${counts['failed']} dead-lettered, ${counts['waiting']} waiting, ${counts['active']} active`);
    for (const job of overview.deadLetters) out(`    dead letter ${job.id} (${job.type}) after ${job.attempts} attempts: ${job.error ?? ''}`);
    out(`  Emails: ${emailsWritten} written to ${outbox} (open the .html files for a preview); ${overview.email['sent']} sent, ${overview.email['clicked']} clicked`);
    out(`  Prompt experiment "${overview.prompts.template}" (${overview.prompts.experiment ?? 'none'}):`);
    for (const arm of [...overview.prompts.arms].sort((a, b) => (b.quality ?? 0) - (a.quality ?? 0))) {
      const quality = arm.quality === undefined ? '   –' : arm.quality.toFixed(2);
      const best = arm.probabilityBest === undefined ? '' : `, P(best) ${(arm.probabilityBest * 100).toFixed(0)}%`;
      out(`    ${arm.id.padEnd(16)} traffic ${String(arm.traffic).padStart(3)}  quality ${quality}${best}${arm.retired ? ' (retired)' : ''}`);
    }
    out(`  Metrics: ${apiHttp.url}/metrics, ${workerHttp.url}/metrics, ${knowledgeHttp.url}/metrics`);
    out(`  Health:  ${apiHttp.url}/health/ready`);
    out(problems.length === 0 ? '\nScenario OK.' : `\nScenario FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
    out(`\nScenario FAILED: ${problems.at(-1) ?? ''}`);
  }

  if (once) {
    await shutdown();
    return problems.length === 0 ? 0 : 1;
  }
  out('\nServing until Ctrl-C. Try: curl -s ' + `${apiHttp.url}/metrics | grep queue_`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  out('\nStopping…');
  await shutdown();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
