/**
 * Prometheus series for the queue, email and prompt blocks, registered in the performance
 * monitor's registry so one `/metrics` shows them all. The blocks expose structural hooks
 * (`QueueMetrics`, `PromptMetrics`, email events); this file is the glue a service writes today.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PromptMetrics } from '@ux-flow/common/ai';
import type { MessageQueue, QueueMetrics } from '@ux-flow/common/queue';

/** The hooks handed to the blocks, plus recorders for what has no hook. */
export interface BlockMetrics {
  queue: QueueMetrics;
  prompts: PromptMetrics;
  /** Counts one email outcome (`sent`, `failed`, …) by provider. */
  email(status: string, provider: string | undefined): void;
  /** Reports the depth of `queue` by state at each scrape. */
  watchQueue(queue: MessageQueue): void;
}

/** Creates the series in `registry`. */
export function createBlockMetrics(registry: Registry): BlockMetrics {
  const registers = [registry];
  const jobs = new Counter({ name: 'queue_jobs_finished_total', help: 'Job attempts finished, by outcome', labelNames: ['queue', 'type', 'outcome'], registers });
  const duration = new Histogram({
    name: 'queue_job_duration_seconds',
    help: 'Processor time per attempt',
    labelNames: ['queue', 'type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const wait = new Histogram({
    name: 'queue_job_wait_seconds',
    help: 'Time from due to start per attempt',
    labelNames: ['queue', 'type'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers,
  });
  const emails = new Counter({ name: 'email_messages_total', help: 'Emails handled, by status and provider', labelNames: ['status', 'provider'], registers });
  const served = new Counter({ name: 'prompt_served_total', help: 'Prompts served, by template and arm', labelNames: ['template', 'arm'], registers });
  const outcomes = new Counter({ name: 'prompt_outcomes_total', help: 'Prompt outcomes recorded, by template, arm and success', labelNames: ['template', 'arm', 'success'], registers });
  const quality = new Histogram({
    name: 'prompt_quality',
    help: 'Quality of recorded outcomes (0-1)',
    labelNames: ['template', 'arm'],
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    registers,
  });
  const watched: MessageQueue[] = [];
  new Gauge({
    name: 'queue_jobs',
    help: 'Jobs in the queue by state (read from the queue at scrape time)',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      for (const queue of watched) {
        const stats = await queue.getStats();
        for (const [state, count] of Object.entries(stats.counts)) this.set({ queue: stats.name, state }, count);
      }
    },
  });

  return {
    queue: {
      onJobFinished({ queue, type, outcome, durationMs, waitMs }) {
        jobs.inc({ queue, type, outcome });
        duration.observe({ queue, type }, durationMs / 1000);
        wait.observe({ queue, type }, waitMs / 1000);
      },
    },
    prompts: {
      onPromptServed({ template, arm }) {
        served.inc({ template, arm });
      },
      onOutcomeRecorded(info) {
        outcomes.inc({ template: info.template, arm: info.arm, success: String(info.success ?? 'unknown') });
        if (info.quality !== undefined) quality.observe({ template: info.template, arm: info.arm }, info.quality);
      },
    },
    email(status, provider) {
      emails.inc({ status, provider: provider ?? 'none' });
    },
    watchQueue(queue) {
      watched.push(queue);
    },
  };
}
