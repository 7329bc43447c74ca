/**
 * flow-api as its own process, against Redis (the queue is shared with the worker through it).
 * Env: PORT (default 3000), REDIS_URL, UXFLOW_PREFIX, KNOWLEDGE_URL (default http://127.0.0.1:3002),
 * PUBLIC_URL (default this server's URL), AUTH_JWT_SECRET, AUTH_SERVICE_SECRET,
 * EMAIL_TRACKING_SECRET, LOG_LEVEL, tracing variables.
 */
import { env, readEnv } from '@ux-flow/common/core';
import { runStandalone } from '../shared/standalone.js';
import { createFlowApi } from './app.js';

const knowledgeUrl = readEnv('KNOWLEDGE_URL', env.url('knowledge-service base URL', { default: 'http://127.0.0.1:3002', protocols: ['http:', 'https:'] }));
const publicUrl = readEnv('PUBLIC_URL', env.url('Public base URL of flow-api', { protocols: ['http:', 'https:'] }));

await runStandalone('flow-api', (runtime, self) => createFlowApi({ ...runtime, knowledgeUrl, publicUrl: publicUrl ?? self.url }), {
  requireRedis: true,
  defaultPort: 3000,
});
