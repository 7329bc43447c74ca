/**
 * Load figure for docs/benchmarks.md: flow-api (own process, real Redis) under autocannon with
 * 1,000 connections on the authenticated read `GET /api/workspaces/:id/flows`, for LOAD_SECONDS (5).
 * Needs the e2e snapshot of the built package (run the e2e project once). Run under the bench lock:
 *   TSX_TSCONFIG_PATH=node_modules/.cache/ux-flow-e2e/tsconfig.json flock /tmp/bench.lock node --import tsx test/helpers/e2e-load.ts
 */
import autocannon from 'autocannon';
import { UnifiedAuthMiddleware } from '@ux-flow/common/auth';
import { ROLES, USER_AUDIENCE, USER_ISSUER } from '../../examples/shared/dev-config.js';
import { startService } from './e2e-process.js';
import { connectShared, deleteKeys, REDIS_URL, testPrefix } from './redis.js';

const seconds = Number(process.env['LOAD_SECONDS'] ?? 5);
const prefix = testPrefix('e2e-load');
const env = { REDIS_URL, UXFLOW_PREFIX: prefix, ENABLE_TRACING: 'true', TRACE_SAMPLE_RATE: '0.1', PORT: '0' };
const knowledge = await startService('knowledge-service', 'examples/knowledge-service/main.ts', env);
const api = await startService('flow-api', 'examples/flow-api/main.ts', { ...env, KNOWLEDGE_URL: knowledge.url });
const issuer = new UnifiedAuthMiddleware({ userTokens: { issuer: USER_ISSUER, audience: USER_AUDIENCE, secret: 'dev-only-user-token-secret-0123456789abcdef', algorithms: ['HS256'] }, roles: ROLES });
const token = await issuer.issueUserToken({ subject: 'u-ada' });
const headers = { authorization: `Bearer ${token}` };
const url = `${api.url}/api/workspaces/w-acme/flows`;
try {
  await autocannon({ url, connections: 50, duration: 2, headers }); // warm-up
  const result = await autocannon({ url, connections: 1000, duration: seconds, timeout: 30, headers });
  process.stdout.write(
    `${JSON.stringify({ connections: 1000, seconds, reqPerSec: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, total: result.requests.total })}\n`,
  );
} finally {
  await issuer.close();
  await api.stop();
  await knowledge.stop();
  const redis = connectShared();
  await deleteKeys(redis, prefix);
  await redis.quit();
}
