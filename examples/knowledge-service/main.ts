/**
 * knowledge-service as its own process. Stateless, so Redis is not needed.
 * Env: PORT (default 3002), AUTH_SERVICE_SECRET, LOG_LEVEL, tracing variables (ENABLE_TRACING, ZIPKIN_ENDPOINT, …).
 */
import { runStandalone } from '../shared/standalone.js';
import { createKnowledgeService } from './app.js';

await runStandalone('knowledge-service', (runtime) => createKnowledgeService(runtime), { requireRedis: false, defaultPort: 3002 });
