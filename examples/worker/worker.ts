/**
 * The worker: processes `ai_processing` jobs (run the prompt through the LLM adapter, score the
 * answer, index the flow in knowledge-service, record the prompt outcome) and `email_send` jobs
 * (the email block's own processor). Each job continues the trace of the request that enqueued it.
 */
import express, { type Express } from 'express';
import {
  type EnhancedEmailService,
  initializePromptOptimizer,
  type MessageQueue,
  type PerformanceMonitor,
  type PromptOptimizer,
  UnifiedAuthMiddleware,
} from '@ux-flow/common';
import { combineEvaluators, type CompletionRequest, keywordsEvaluator, lengthEvaluator, type LlmAdapter, LocalAdapter } from '@ux-flow/common/ai';
import { sleep } from '@ux-flow/common/core';
import { BlockMetrics } from '@ux-flow/common/monitoring';
import type { Job } from '@ux-flow/common/queue';
import type { AiProcessingJob } from '../flow-api/app.js';
import { JOBS, secret, SERVICES } from '../shared/dev-config.js';
import { createKnowledgeClient } from '../shared/knowledge-client.js';
import { createEmailService, createMonitor, createQueue, type ServiceRuntime } from '../shared/service-kit.js';

/** Options of {@link createWorker}. */
export interface WorkerOptions extends ServiceRuntime {
  /** Base URL of knowledge-service. */
  knowledgeUrl: string;
  /** Public base URL of flow-api (click tracking links point there). */
  publicUrl: string;
  /** Jobs of each type at once. Default `QUEUE_CONCURRENCY` (5). */
  concurrency?: number;
  /** The LLM. Default a {@link LocalAdapter} that writes flow outlines offline. */
  llm?: LlmAdapter;
  /** Simulated model latency of the default local LLM, in ms. Default 20. */
  llmLatencyMs?: number;
  /** Share flow-api's optimizer (needed in one process without Redis: the memory store is per instance). */
  optimizer?: PromptOptimizer;
  /** Development secrets are used for what `env` does not set. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** What {@link createWorker} returns. */
export interface FlowWorker {
  /** Probes and `/metrics` only; the worker serves no API. */
  app: Express;
  monitor: PerformanceMonitor;
  messageQueue: MessageQueue;
  emailService: EnhancedEmailService;
  close(): Promise<void>;
}

/** The marker the demo puts in a description to make the model fail every attempt. */
export const SIMULATED_OUTAGE = '[llm-outage]';

/**
 * An offline stand-in for a model: answers with a flow outline whose shape depends on the prompt
 * wording, so the experiment has something to learn. Fails on {@link SIMULATED_OUTAGE}.
 */
export function outlineModel(latencyMs: number): LocalAdapter {
  return new LocalAdapter({
    model: 'local-outline',
    respond: async (request: CompletionRequest) => {
      if (latencyMs > 0) await sleep(latencyMs, request.signal === undefined ? {} : { signal: request.signal });
      const ask = request.messages.at(-1)?.content ?? '';
      if (ask.includes(SIMULATED_OUTAGE)) throw new Error('model overloaded (simulated outage)');
      const system = request.system ?? '';
      if (system.includes('numbered steps')) {
        return ['1. Entry: explain the value in one sentence and show progress (step 1 of 5).', '2. Details: ask for one thing per screen.',
          '3. Review: show the total and what happens next.', '4. Confirm: a clear primary action, with undo for 10 seconds.',
          '5. Done: confirm success and offer the next step; let people come back later.'].join('\n');
      }
      if (system.startsWith('Be brief')) return '- Form\n- Submit';
      return ['- Start screen with a short explanation', '- A form for the details, with progress shown', '- Confirm and finish'].join('\n');
    },
  });
}

const scoreOutline = combineEvaluators([lengthEvaluator({ minWords: 40 }), keywordsEvaluator({ required: ['progress', 'confirm', 'undo'] })]);

/** Builds the worker and starts processing. */
export async function createWorker(options: WorkerOptions): Promise<FlowWorker> {
  const env = options.env ?? process.env;
  const prefix = options.prefix ?? 'uxflow-example';
  const logger = options.logger;

  const performanceMonitor = createMonitor(SERVICES.worker, options);
  const metrics = BlockMetrics.for(performanceMonitor.registry);
  const messageQueue = createQueue(options, performanceMonitor, { metrics: metrics.queue });
  metrics.watchQueue(messageQueue);

  // The worker only issues service tokens (to knowledge-service); it accepts none.
  const auth = new UnifiedAuthMiddleware({
    serviceTokens: { serviceName: SERVICES.worker, audience: SERVICES.worker, issuer: [SERVICES.flowApi], secret: secret('AUTH_SERVICE_SECRET', env), algorithms: ['HS256'] },
    ...(logger === undefined ? {} : { logger }),
  });
  const knowledge = createKnowledgeClient(options.knowledgeUrl, auth, performanceMonitor.tracer);
  const optimizer = options.optimizer ?? initializePromptOptimizer(options.redis, logger, { prefix, metrics: metrics.prompts });
  const llm = options.llm ?? outlineModel(options.llmLatencyMs ?? 20);

  const emailService = createEmailService({ ...options, prefix, env }, performanceMonitor, messageQueue, logger);

  async function processAIRequest(data: AiProcessingJob, job: Job<AiProcessingJob>): Promise<{ steps: number; quality: number; arm: string; outline: string }> {
    const system = data.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n');
    const conversation = data.messages.filter((m): m is { role: 'user' | 'assistant'; content: string } => m.role !== 'system');
    let answer;
    try {
      answer = await llm.complete({ system, messages: conversation, maxTokens: 800, signal: job.signal });
    } catch (error) {
      // The last attempt failed: that prompt produced nothing.
      if (job.attempt >= job.maxAttempts) await optimizer.recordOutcome(data.selection, { success: false, quality: 0 });
      throw error;
    }
    const evaluation = await scoreOutline.evaluate({ output: answer.text, input: conversation.at(-1)?.content ?? '' });
    const steps = answer.text.split('\n').filter((line) => /^(\d+\.|-)\s/.test(line)).length;
    await knowledge.indexFlow({ flowId: data.flowId, workspaceId: data.workspaceId, title: data.title, steps }, job.signal);
    await optimizer.recordOutcome(data.selection, {
      quality: evaluation.score,
      success: evaluation.pass,
      latencyMs: answer.latencyMs,
      tokens: { input: answer.usage.inputTokens, output: answer.usage.outputTokens },
    });
    return { steps, quality: evaluation.score, arm: data.selection.arm, outline: answer.text };
  }

  const concurrency = options.concurrency === undefined ? {} : { concurrency: options.concurrency };
  messageQueue.registerProcessor<AiProcessingJob>(JOBS.ai, async (jobData, job) => processAIRequest(jobData, job), concurrency);
  messageQueue.registerProcessor(JOBS.email, async (jobData) => emailService.processSendEmail(jobData), concurrency);

  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', performanceMonitor.metricsHandler());
  app.use(performanceMonitor.healthHandler());
  if (options.redis !== undefined) {
    const redis = options.redis;
    performanceMonitor.registerHealthCheck('redis', async () => (await redis.ping()) === 'PONG', { timeoutMs: 500 });
  }

  return {
    app,
    monitor: performanceMonitor,
    messageQueue,
    emailService,
    async close() {
      await messageQueue.close({ timeoutMs: 5000 });
      await emailService.close();
      if (options.optimizer === undefined) await optimizer.close();
      await auth.close();
      await performanceMonitor.shutdown();
    },
  };
}
