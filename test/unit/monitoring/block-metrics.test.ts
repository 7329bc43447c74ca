import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../../src/core/logger.js';
import { PromptOptimizer } from '../../../src/ai/prompt-optimizer.js';
import { BlockMetrics } from '../../../src/monitoring/block-metrics.js';
import { createInMemoryMessageQueue } from '../../../src/queue/create-in-memory-message-queue.js';
import type { MessageQueue } from '../../../src/queue/message-queue.js';
import { UnrecoverableError } from '../../../src/queue/unrecoverable-error.js';
import { parsePrometheusText, type Family } from '../../helpers/monitoring-prom-parser.js';

function value(family: Family | undefined, name: string, labels: Record<string, string>): number | undefined {
  return family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const queues: MessageQueue[] = [];
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.close()));
});

describe('BlockMetrics', () => {
  it('is one instance per registry', () => {
    const registry = new Registry();
    expect(BlockMetrics.for(registry)).toBe(BlockMetrics.for(registry));
    expect(BlockMetrics.for(new Registry())).not.toBe(BlockMetrics.for(registry));
  });

  it('reports queue attempts by outcome, durations, and depth and oldest age read at scrape time', async () => {
    const registry = new Registry();
    const metrics = BlockMetrics.for(registry);
    const queue = createInMemoryMessageQueue({ name: 'jobs', metrics: metrics.queue });
    queues.push(queue);
    metrics.watchQueue(queue);
    await queue.add('later', { n: 0 }, { delayMs: 60_000 });
    await queue.add('slow', { n: 1 });
    const settled = new Promise<void>((resolve) => {
      let finished = 0;
      const done = (): void => {
        if (++finished === 3) resolve();
      };
      queue.on('completed', done);
      queue.on('dead', done);
    });
    queue.registerProcessor('ok', () => 'fine');
    queue.registerProcessor('bad', () => {
      throw new UnrecoverableError('no');
    });
    await queue.add('ok', { n: 2 });
    await queue.add('ok', { n: 3 });
    await queue.add('bad', { n: 4 });
    await settled;

    const parsed = parsePrometheusText(await registry.metrics());
    expect(parsed.errors).toEqual([]);
    const f = (name: string): Family | undefined => parsed.families.get(name);
    expect(value(f('queue_jobs_finished_total'), 'queue_jobs_finished_total', { queue: 'jobs', type: 'ok', outcome: 'completed' })).toBe(2);
    expect(value(f('queue_jobs_finished_total'), 'queue_jobs_finished_total', { queue: 'jobs', type: 'bad', outcome: 'dead' })).toBe(1);
    expect(value(f('queue_job_duration_seconds'), 'queue_job_duration_seconds_count', { queue: 'jobs', type: 'ok' })).toBe(2);
    expect(value(f('queue_job_wait_seconds'), 'queue_job_wait_seconds_bucket', { queue: 'jobs', type: 'ok', le: '+Inf' })).toBe(2);
    // Read from the queue at scrape time: 'slow' has no processor and waits; 'later' is delayed.
    expect(value(f('queue_jobs'), 'queue_jobs', { queue: 'jobs', state: 'waiting' })).toBe(1);
    expect(value(f('queue_jobs'), 'queue_jobs', { queue: 'jobs', state: 'delayed' })).toBe(1);
    expect(value(f('queue_jobs'), 'queue_jobs', { queue: 'jobs', state: 'failed' })).toBe(1);
    expect(value(f('queue_oldest_waiting_age_seconds'), 'queue_oldest_waiting_age_seconds', { queue: 'jobs' })).toBeGreaterThanOrEqual(0);

    // A later scrape sees the queue move.
    queue.registerProcessor('slow', () => 'done');
    await new Promise<void>((resolve) => queue.on('completed', () => resolve()));
    const again = parsePrometheusText(await registry.metrics());
    expect(value(again.families.get('queue_jobs'), 'queue_jobs', { queue: 'jobs', state: 'waiting' })).toBe(0);
  });

  it('keeps the last values and still answers the scrape when a queue cannot report', async () => {
    const registry = new Registry();
    const warnings: unknown[] = [];
    const metrics = BlockMetrics.for(registry, { ...createSilentLogger(), warn: (obj: unknown) => void warnings.push(obj) });
    let fail = false;
    metrics.watchQueue({
      getStats: () => (fail ? Promise.reject(new Error('redis down')) : Promise.resolve({ name: 'q', counts: { waiting: 4 }, oldestWaitingAgeMs: 1500 })),
    });
    expect(await registry.metrics()).toContain('queue_jobs{queue="q",state="waiting"} 4');
    fail = true;
    const text = await registry.metrics();
    expect(text).toContain('queue_jobs{queue="q",state="waiting"} 4');
    expect(text).toContain('queue_oldest_waiting_age_seconds{queue="q"} 1.5');
    expect(warnings.length).toBe(1);
  });

  it("implements the prompt optimizer's hook: served, outcomes by success, quality", async () => {
    const registry = new Registry();
    const optimizer = new PromptOptimizer({ metrics: BlockMetrics.for(registry).prompts });
    await optimizer.registerTemplate('greet', { template: 'Hello {{name}}', variables: ['name'] });
    const served = await optimizer.getPrompt('greet', { variables: { name: 'Ada' } });
    await optimizer.recordOutcome(served.selection, { quality: 0.8, success: true });
    await optimizer.close();
    const parsed = parsePrometheusText(await registry.metrics());
    expect(parsed.errors).toEqual([]);
    const arm = served.selection.arm;
    expect(value(parsed.families.get('prompt_served_total'), 'prompt_served_total', { template: 'greet', arm })).toBe(1);
    expect(value(parsed.families.get('prompt_outcomes_total'), 'prompt_outcomes_total', { template: 'greet', arm, success: 'true' })).toBe(1);
    expect(value(parsed.families.get('prompt_quality'), 'prompt_quality_sum', { template: 'greet', arm })).toBeCloseTo(0.8);
  });
});
