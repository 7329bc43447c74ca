/**
 * The worker as its own process, against Redis. Start as many as you like: each job runs once,
 * and a job whose worker dies is taken back after the lock expires (QUEUE_LOCK_MS).
 * Env: PORT (default 3001, probes and /metrics), REDIS_URL, UXFLOW_PREFIX, KNOWLEDGE_URL,
 * PUBLIC_URL (flow-api's, for email links), QUEUE_CONCURRENCY, QUEUE_LOCK_MS, QUEUE_STALLED_MS,
 * LLM_LATENCY_MS (simulated model latency), EMAIL_PROVIDER and its variables, LOG_LEVEL, tracing variables.
 */
import { env, readEnv } from '@ux-flow/common/core';
import { runStandalone } from '../shared/standalone.js';
import { createWorker } from './worker.js';

const knowledgeUrl = readEnv('KNOWLEDGE_URL', env.url('knowledge-service base URL', { default: 'http://127.0.0.1:3002', protocols: ['http:', 'https:'] }));
const publicUrl = readEnv('PUBLIC_URL', env.url('Public base URL of flow-api', { default: 'http://127.0.0.1:3000', protocols: ['http:', 'https:'] }));
const llmLatencyMs = readEnv('LLM_LATENCY_MS', env.integer('Simulated model latency (ms)', { default: 20, min: 0 }));

await runStandalone('flow-worker', (runtime) => createWorker({ ...runtime, knowledgeUrl, publicUrl, llmLatencyMs }), {
  requireRedis: true,
  defaultPort: 3001,
});
