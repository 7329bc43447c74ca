import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromptOptimizer } from '../../../src/ai/index.js';
import { initializeEnhancedEmailService, type EnhancedEmailService } from '../../../src/communication/index.js';
import { BlockMetrics, PerformanceMonitor } from '../../../src/monitoring/index.js';
import { createInMemoryMessageQueue, type MessageQueue } from '../../../src/queue/index.js';
import { exposedNames, metricNamesOf } from '../../helpers/docs-promql.js';
import { REPO_ROOT } from '../../helpers/docs-snippets.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';

const RULES = join(REPO_ROOT, 'docs', 'ops', 'prometheus-alerts.yml');
const DASHBOARD = join(REPO_ROOT, 'docs', 'ops', 'grafana-dashboard.json');

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
}

function ruleExpressions(): string[] {
  const text = readFileSync(RULES, 'utf8');
  const exprs = [...text.matchAll(/^\s+expr:\s*(.+)$/gm)].map((m) => m[1]!);
  // One single-line expression per rule, so none is missed by this reader.
  expect(exprs.length).toBe([...text.matchAll(/^\s+- (alert|record):/gm)].length);
  return exprs;
}

interface Dashboard {
  __inputs: { name: string; pluginId: string }[];
  panels: Panel[];
  templating: { list: { query: { query: string } }[] };
}

function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
}

describe('docs/ops: Prometheus rules and the Grafana dashboard', () => {
  let monitor: PerformanceMonitor;
  let emailService: EnhancedEmailService;
  let queue: MessageQueue;
  let optimizer: PromptOptimizer;
  let redis: Redis;
  let server: Server;
  let outbox: string;
  const prefix = testPrefix('docs-ops');
  let exposition = '';

  beforeAll(async () => {
    redis = connectShared();
    outbox = mkdtempSync(join(tmpdir(), 'uxflow-docs-ops-'));
    monitor = new PerformanceMonitor('docs-ops', {
      enableSystemMetrics: true,
      systemMetrics: { intervalMs: 100 },
      enableTracing: false,
      env: {},
    });
    emailService = initializeEnhancedEmailService({
      provider: 'dev',
      dev: { outputDir: outbox },
      defaultFrom: 'Ops <ops@example.com>',
      redis,
      prefix,
      metricsRegistry: monitor.registry,
      env: {},
    });
    // A queue and a prompt optimizer reporting through BlockMetrics, as a service wires them.
    const blockMetrics = BlockMetrics.for(monitor.registry);
    queue = createInMemoryMessageQueue({ name: 'ops-jobs', metrics: blockMetrics.queue });
    blockMetrics.watchQueue(queue);
    optimizer = new PromptOptimizer({ metrics: blockMetrics.prompts });
    const app = express();
    app.use(monitor.middleware());
    app.get('/metrics', monitor.metricsHandler());
    app.get('/items/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    app.get('/boom', () => {
      throw new Error('boom');
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const path of ['/items/1', '/items/2', '/boom']) await (await fetch(base + path)).arrayBuffer();
    const result = await emailService.send({ to: 'ada@example.com', subject: 'Hello', text: 'Hi Ada' });
    expect(result.status).toBe('sent');

    // One job completes, one fails both attempts and lands in the dead-letter list; one more waits.
    const settled = new Promise<void>((resolve) => {
      let completed = false;
      let dead = false;
      queue.on('completed', () => ((completed = true), completed && dead && resolve()));
      queue.on('dead', () => ((dead = true), completed && dead && resolve()));
    });
    queue.registerProcessor<{ fail: boolean }>('render', async (data) => {
      if (data.fail) throw new Error('render failed');
      return 'ok';
    });
    await queue.add('render', { fail: false });
    await queue.add('render', { fail: true }, { attempts: 2, backoff: { type: 'fixed', delayMs: 1 } });
    await settled;
    await queue.add('report', { fail: false }); // no processor for this type: it stays waiting

    await optimizer.registerTemplate('summary', { template: 'Summarize: {{text}}', variables: ['text'] });
    const served = await optimizer.getPrompt('summary', { variables: { text: 'ops' } });
    await optimizer.recordOutcome(served.selection, { success: true, quality: 0.8 });
    // Wait for the system sampler's first reading (an event, not a fixed delay).
    for (let i = 0; i < 100; i++) {
      exposition = await (await fetch(`${base}/metrics`)).text();
      if (/^nodejs_eventloop_delay_p99_seconds \S+/m.test(exposition)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, 60_000);

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await emailService?.close();
    await queue?.close({ timeoutMs: 1000 });
    await optimizer?.close();
    await monitor?.shutdown();
    await deleteKeys(redis, prefix);
    await redis.quit();
    rmSync(outbox, { recursive: true, force: true });
  });

  it('the alert rules pass promtool check rules', () => {
    const promtool = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    if (promtool.error !== undefined) {
      throw new Error(`promtool is not installed (${promtool.error.message}); on Debian: apt-get install -y prometheus`);
    }
    expect(promtool.stdout + promtool.stderr).toContain('SUCCESS');
    expect(promtool.status).toBe(0);
  });

  it('the scrape has the queue and prompt series of BlockMetrics', () => {
    expect(exposition).toMatch(/^queue_jobs_finished_total\{[^}]*queue="ops-jobs"[^}]*outcome="completed"[^}]*\} 1$/m);
    expect(exposition).toMatch(/^queue_jobs_finished_total\{[^}]*outcome="retrying"[^}]*\} 1$/m);
    expect(exposition).toMatch(/^queue_jobs_finished_total\{[^}]*outcome="dead"[^}]*\} 1$/m);
    expect(exposition).toMatch(/^queue_jobs\{[^}]*queue="ops-jobs"[^}]*state="waiting"[^}]*\} 1$/m);
    expect(exposition).toMatch(/^queue_oldest_waiting_age_seconds\{[^}]*queue="ops-jobs"[^}]*\} \S+$/m);
    expect(exposition).toMatch(/^queue_job_wait_seconds_count\{[^}]*type="render"[^}]*\} 3$/m);
    expect(exposition).toMatch(/^prompt_served_total\{[^}]*template="summary"[^}]*\} 1$/m);
    expect(exposition).toMatch(/^prompt_outcomes_total\{[^}]*success="true"[^}]*\} 1$/m);
    expect(exposition).toMatch(/^prompt_quality_sum\{[^}]*template="summary"[^}]*\} 0\.8$/m);
  });

  it('the scrape has the HTTP, runtime and email series', () => {
    expect(exposition).toMatch(/^http_server_request_duration_seconds_bucket\{[^}]*route="\/items\/:id"/m);
    expect(exposition).toMatch(/^http_server_errors_total\{[^}]*route="\/boom"/m);
    expect(exposition).toMatch(/^email_messages_sent_total\{[^}]*provider="dev"/m);
    expect(exposition).toMatch(/^nodejs_eventloop_delay_p99_seconds \S+/m);
  });

  it('every metric the alert rules use is in the real /metrics output', () => {
    const exposed = exposedNames(exposition);
    const used = ruleExpressions().flatMap(metricNamesOf);
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('every metric the dashboard uses is in the real /metrics output', () => {
    const board = dashboard();
    const exprs = [
      ...board.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
      ...board.templating.list.map((variable) => variable.query.query.replace(/^label_values\((.*),\s*\w+\)$/, '$1')),
    ];
    const exposed = exposedNames(exposition);
    const used = [...new Set(exprs.flatMap(metricNamesOf))];
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('the dashboard asks for a Prometheus data source and every panel uses it', () => {
    const board = dashboard();
    expect(board.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    const queried = board.panels.filter((panel) => panel.type !== 'row');
    expect(queried.length).toBeGreaterThan(10);
    for (const panel of queried) {
      expect(panel.datasource?.uid, panel.title).toBe('${DS_PROMETHEUS}');
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe('${DS_PROMETHEUS}');
    }
  });

  it('reads metric names out of PromQL', () => {
    expect(metricNamesOf('histogram_quantile(0.95, sum by (job, le) (rate(a_bucket{x="y"}[5m]))) > 1 and on (job) b_total offset 5m').sort())
      .toEqual(['a_bucket', 'b_total']);
  });
});
