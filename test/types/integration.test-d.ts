/**
 * The integration code from ARCHITECTURE.md ("names users' code already calls") must compile as
 * written against the public entry, and the pieces must fit each other's types.
 */
import express, { type Request } from 'express';
import { Redis } from 'ioredis';
import { describe, expectTypeOf, it } from 'vitest';
import {
  getDefaultAuthMiddleware,
  initializeEnhancedEmailService,
  initializeMessageQueue,
  initializePerformanceMonitor,
  initializePromptOptimizer,
  type Logger,
  type MessageQueue,
  type PerformanceMonitor,
  type PromptOptimizer,
  type UnifiedAuthMiddleware,
} from '../../src/index.js';
import type { AuthContext, UserService } from '../../src/auth/index.js';
import type { MessagingTelemetry } from '../../src/queue/index.js';
import type { DistributedTracer } from '../../src/monitoring/index.js';

declare const logger: Logger;
declare const userManager: UserService;
declare function processAIRequest(jobData: unknown): Promise<unknown>;

describe('the integration code users already write', () => {
  it('compiles as written in ARCHITECTURE.md', () => {
    const app = express();
    const redisClient = new Redis();
    const emailConfig = { defaultFrom: 'no-reply@example.com' };

    const performanceMonitor = initializePerformanceMonitor('service-name', { enableTracing: true, enableSystemMetrics: true });
    app.use(performanceMonitor.middleware());

    const messageQueue = initializeMessageQueue(redisClient, logger);
    const emailService = initializeEnhancedEmailService(emailConfig, logger, messageQueue);

    const auth = getDefaultAuthMiddleware({ userService: userManager });
    app.use('/api/protected', auth.requireAuth());
    app.use('/api/admin', auth.requireRole('admin'));
    app.get('/api/admin/overview', [auth.requireAuth(), auth.requireRole('admin')], (_req: Request, res: express.Response) => {
      res.json({});
    });

    messageQueue.registerProcessor('email_send', async (jobData) => emailService.processSendEmail(jobData));
    messageQueue.registerProcessor('ai_processing', async (jobData) => processAIRequest(jobData));

    expectTypeOf(performanceMonitor).toEqualTypeOf<PerformanceMonitor>();
    expectTypeOf(messageQueue).toEqualTypeOf<MessageQueue>();
    expectTypeOf(auth).toEqualTypeOf<UnifiedAuthMiddleware>();
    expectTypeOf(initializePromptOptimizer(redisClient, logger)).toEqualTypeOf<PromptOptimizer>();
  });

  it('types req.auth on Express requests', () => {
    expectTypeOf<Request['auth']>().toEqualTypeOf<AuthContext | undefined>();
    expectTypeOf<AuthContext['kind']>().toEqualTypeOf<'user' | 'service'>();
  });

  it('the tracer plugs into the queue without either importing the other', () => {
    expectTypeOf<ReturnType<DistributedTracer['messagingTelemetry']>>().toExtend<MessagingTelemetry>();
  });
});
