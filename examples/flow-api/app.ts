/**
 * flow-api: the public API of a UX-flow product. Users create flows (the AI block picks the
 * prompt, the worker runs it) and invite teammates (the email block, through the queue); admins
 * read an overview of the queue, email and prompt experiment. Everything is wired the way
 * ARCHITECTURE.md shows.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import {
  type EnhancedEmailService,
  getDefaultAuthMiddleware,
  initializePromptOptimizer,
  type MessageQueue,
  type PerformanceMonitor,
  type PromptOptimizer,
  type UnifiedAuthMiddleware,
  ValidationError,
} from '@ux-flow/common';
import { type PromptSelection, PromptTemplateError } from '@ux-flow/common/ai';
import { BlockMetrics } from '@ux-flow/common/monitoring';
import { JOBS, ROLES, secret, SERVICES, USER_AUDIENCE, USER_ISSUER, UserDirectory, WORKSPACES } from '../shared/dev-config.js';
import { createKnowledgeClient, type KnowledgeClient } from '../shared/knowledge-client.js';
import { createEmailService, createMonitor, createQueue, type ServiceRuntime } from '../shared/service-kit.js';
import { FlowIndex } from './flow-index.js';
import { ensureFlowPrompt, FLOW_PROMPT } from './prompts.js';

/** What the worker receives in an `ai_processing` job. */
export interface AiProcessingJob {
  flowId: string;
  workspaceId: string;
  title: string;
  requestedBy: string;
  /** The rendered prompt and the handle to report its outcome with. */
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  selection: PromptSelection;
}

/** Options of {@link createFlowApi}. */
export interface FlowApiOptions extends ServiceRuntime {
  /** Base URL of knowledge-service. */
  knowledgeUrl: string;
  /** Public base URL of this API (email links and click tracking point here). */
  publicUrl: string;
  /** Development secrets are used for what `env` does not set. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** What {@link createFlowApi} returns. */
export interface FlowApi {
  app: Express;
  monitor: PerformanceMonitor;
  auth: UnifiedAuthMiddleware;
  messageQueue: MessageQueue;
  optimizer: PromptOptimizer;
  emailService: EnhancedEmailService;
  close(): Promise<void>;
}

const TOPICS = new Set(['onboarding', 'checkout', 'general']);

function stringField(body: unknown, field: string, { min, max }: { min: number; max: number }): string {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  if (typeof value !== 'string' || value.trim().length < min || value.length > max) {
    throw new ValidationError(field, `must be a string of ${min} to ${max} characters`);
  }
  return value.trim();
}

/** Builds flow-api: its blocks, routes and prompt experiment. */
export async function createFlowApi(options: FlowApiOptions): Promise<FlowApi> {
  const env = options.env ?? process.env;
  const prefix = options.prefix ?? 'uxflow-example';
  const logger = options.logger;

  const performanceMonitor = createMonitor(SERVICES.flowApi, options);
  // Queue and prompt series in the monitor's registry, next to the HTTP series: one /metrics.
  const metrics = BlockMetrics.for(performanceMonitor.registry);
  const messageQueue = createQueue(options, performanceMonitor, { metrics: metrics.queue, jobTypes: [JOBS.ai, JOBS.email] });
  metrics.watchQueue(messageQueue);

  const userManager = new UserDirectory();
  const auth = getDefaultAuthMiddleware({
    userService: userManager,
    roles: ROLES,
    userTokens: { issuer: USER_ISSUER, audience: USER_AUDIENCE, secret: secret('AUTH_JWT_SECRET', env), algorithms: ['HS256'] },
    serviceTokens: { serviceName: SERVICES.flowApi, audience: SERVICES.flowApi, issuer: [SERVICES.worker], secret: secret('AUTH_SERVICE_SECRET', env), algorithms: ['HS256'] },
    ...(logger === undefined ? {} : { logger }),
  });

  const optimizer = initializePromptOptimizer(options.redis, logger, { prefix, metrics: metrics.prompts });
  await ensureFlowPrompt(optimizer);

  const emailService = createEmailService({ ...options, prefix, env }, performanceMonitor, messageQueue, logger);

  const knowledge: KnowledgeClient = createKnowledgeClient(options.knowledgeUrl, auth, performanceMonitor.tracer);
  const flowIndex = new FlowIndex(options.redis, `${prefix}:flow-api`);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(performanceMonitor.middleware());
  app.get('/metrics', performanceMonitor.metricsHandler());
  app.use(performanceMonitor.healthHandler());
  if (options.redis !== undefined) {
    const redis = options.redis;
    performanceMonitor.registerHealthCheck('redis', async () => (await redis.ping()) === 'PONG', { timeoutMs: 500 });
  }
  app.use('/email', emailService.router()); // click tracking, before body parsers
  app.use(express.json({ limit: '64kb' }));

  // Where invitation links land (public: the invitee has no account yet).
  app.get('/invitations/accept', (req, res) => {
    const workspace = typeof req.query['workspace'] === 'string' ? req.query['workspace'] : '?';
    const email = typeof req.query['email'] === 'string' ? req.query['email'] : '?';
    res.type('text/plain').send(`Invitation to ${workspace} for ${email}: sign in to accept.`);
  });

  app.use('/api', auth.requireAuth());
  app.use('/api/admin', auth.requireRole('admin'));

  app.get('/api/me', (req, res) => {
    res.json({ id: req.auth?.subject, roles: req.auth?.roles, workspaces: req.auth?.workspaces });
  });

  app.get('/api/workspaces/:workspaceId/flows', auth.requireWorkspaceAccess(), async (req: Request<{ workspaceId: string }>, res: Response) => {
    res.json({ flows: await flowIndex.list(req.params.workspaceId) });
  });

  app.post('/api/workspaces/:workspaceId/flows', auth.requireWorkspaceAccess({ roles: ['editor'] }), async (req: Request<{ workspaceId: string }>, res: Response) => {
    const workspaceId = req.params.workspaceId;
    const title = stringField(req.body, 'title', { min: 1, max: 120 });
    const description = stringField(req.body, 'description', { min: 0, max: 2000 });
    const topicRaw = (req.body as Record<string, unknown>)['topic'] ?? 'general';
    if (typeof topicRaw !== 'string' || !TOPICS.has(topicRaw)) throw new ValidationError('topic', `must be one of ${[...TOPICS].join(', ')}`);
    const requestedBy = req.auth?.subject ?? '';

    const guidelines = await knowledge.guidelines(topicRaw);
    const { messages, selection } = await optimizer.getPrompt(FLOW_PROMPT, {
      variables: { title, description, guidelines: guidelines.map((g) => `- ${g.text}`).join('\n') },
      context: { topic: topicRaw },
    });
    const flowId = randomUUID();
    await messageQueue.add<AiProcessingJob>(
      JOBS.ai,
      { flowId, workspaceId, title, requestedBy, messages: messages ?? [], selection },
      { jobId: `flow:${flowId}`, attempts: 3, backoff: { type: 'exponential', delayMs: 200 }, timeoutMs: 30_000 },
    );
    await flowIndex.add(workspaceId, { flowId, title, createdBy: requestedBy, createdAt: Date.now() });
    res.status(202).location(`/api/workspaces/${workspaceId}/flows/${flowId}`).json({ flowId, status: 'queued', promptArm: selection.arm });
  });

  app.get('/api/workspaces/:workspaceId/flows/:flowId', auth.requireWorkspaceAccess(), async (req: Request<{ workspaceId: string; flowId: string }>, res: Response) => {
    const job = await messageQueue.getJob<AiProcessingJob>(`flow:${req.params.flowId}`);
    if (job === undefined || job.data.workspaceId !== req.params.workspaceId) {
      res.status(404).json({ error: 'not_found', message: 'no such flow in this workspace' });
      return;
    }
    res.json({ flowId: job.data.flowId, title: job.data.title, state: job.state, attempts: job.attemptsMade, result: job.result, error: job.error?.message });
  });

  app.post('/api/workspaces/:workspaceId/invitations', auth.requireWorkspaceAccess({ roles: ['owner'] }), async (req: Request<{ workspaceId: string }>, res: Response) => {
    const workspaceId = req.params.workspaceId;
    const email = stringField(req.body, 'email', { min: 3, max: 254 });
    const inviter = userManager.getUserById(req.auth?.subject ?? '');
    const acceptUrl = `${options.publicUrl}/invitations/accept?workspace=${encodeURIComponent(workspaceId)}&email=${encodeURIComponent(email)}`;
    const message = {
      to: email,
      template: 'workspace-invitation',
      data: { inviterName: inviter?.name ?? 'A teammate', workspaceName: WORKSPACES[workspaceId]?.name ?? workspaceId, acceptUrl },
      tags: ['invitation'],
      idempotencyKey: `invite:${workspaceId}:${email.toLowerCase()}`, // a double click sends one email
    };
    const jobId = await emailService.queueEmail(message);
    res.status(202).json({ status: 'queued', jobId });
  });

  app.get('/api/admin/overview', async (_req, res) => {
    const [queue, deadLetters, report, email] = await Promise.all([
      messageQueue.getStats(),
      messageQueue.listDeadLetters({ limit: 10 }),
      optimizer.getReport(FLOW_PROMPT),
      emailService.getStats().then((stats) => stats.total),
    ]);
    res.json({
      queue: { counts: queue.counts, types: queue.types, lastHour: queue.lastHour },
      deadLetters: deadLetters.map((job) => ({ id: job.id, type: job.type, attempts: job.attemptsMade, error: job.error?.message })),
      email,
      prompts: {
        template: FLOW_PROMPT,
        experiment: report.experiment?.status,
        arms: (report.experiment?.arms ?? []).map((arm) => ({
          id: arm.id,
          traffic: arm.traffic,
          quality: arm.quality?.mean,
          probabilityBest: arm.probabilityBest,
          retired: arm.retired ?? false,
        })),
      },
    });
  });

  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (ValidationError.isInstance(error) || PromptTemplateError.isInstance(error)) {
      res.status(400).json({ error: 'invalid_request', message: error.message });
      return;
    }
    if ((error as { type?: string }).type === 'entity.parse.failed') {
      res.status(400).json({ error: 'invalid_request', message: 'body is not valid JSON' });
      return;
    }
    logger?.error({ err: error }, 'request failed');
    res.status(500).json({ error: 'internal_error', message: 'something went wrong' });
  });

  return {
    app,
    monitor: performanceMonitor,
    auth,
    messageQueue,
    optimizer,
    emailService,
    async close() {
      await messageQueue.close({ timeoutMs: 5000 });
      await emailService.close();
      await optimizer.close();
      await auth.close();
      await performanceMonitor.shutdown();
    },
  };
}
