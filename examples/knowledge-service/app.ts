/**
 * knowledge-service: an internal service holding UX guidelines and an index of generated flows.
 * It accepts service tokens only (no user can call it), from flow-api and the worker.
 */
import express, { type Express } from 'express';
import { UnifiedAuthMiddleware, type PerformanceMonitor } from '@ux-flow/common';
import { secret, SERVICES } from '../shared/dev-config.js';
import { createMonitor, type ServiceRuntime } from '../shared/service-kit.js';

/** A guideline the prompt is grounded on. */
export interface Guideline {
  id: string;
  topic: string;
  text: string;
}

const GUIDELINES: readonly Guideline[] = [
  { id: 'g1', topic: 'onboarding', text: 'Ask for one thing per screen; show progress.' },
  { id: 'g2', topic: 'onboarding', text: 'Let people skip optional steps and come back later.' },
  { id: 'g3', topic: 'checkout', text: 'Show the total, taxes and delivery date before payment.' },
  { id: 'g4', topic: 'checkout', text: 'Offer guest checkout; ask for an account after the order.' },
  { id: 'g5', topic: 'general', text: 'Confirm destructive actions and allow undo.' },
];

/** A flow the worker generated and indexed here. */
export interface IndexedFlow {
  flowId: string;
  workspaceId: string;
  title: string;
  steps: number;
  indexedBy: string;
}

/** What {@link createKnowledgeService} returns. */
export interface KnowledgeService {
  app: Express;
  monitor: PerformanceMonitor;
  auth: UnifiedAuthMiddleware;
  /** Flows indexed so far, newest last. */
  flows: IndexedFlow[];
  close(): Promise<void>;
}

/** Builds the service. `env` supplies AUTH_SERVICE_SECRET (a development secret otherwise). */
export function createKnowledgeService(runtime: ServiceRuntime = {}, env: NodeJS.ProcessEnv = process.env): KnowledgeService {
  const monitor = createMonitor(SERVICES.knowledge, runtime);
  // Only service tokens: no `userTokens` at all, so a user token is `invalid_token` here.
  const auth = new UnifiedAuthMiddleware({
    serviceTokens: {
      secret: secret('AUTH_SERVICE_SECRET', env),
      algorithms: ['HS256'],
      issuer: [SERVICES.flowApi, SERVICES.worker],
      audience: SERVICES.knowledge,
    },
    ...(runtime.logger === undefined ? {} : { logger: runtime.logger }),
  });
  const flows: IndexedFlow[] = [];

  const app = express();
  app.disable('x-powered-by');
  app.use(monitor.middleware());
  app.get('/metrics', monitor.metricsHandler());
  app.use(monitor.healthHandler());
  app.use(express.json({ limit: '64kb' }));

  app.get('/internal/guidelines', auth.requireServiceToken(SERVICES.flowApi, SERVICES.worker), (req, res) => {
    const topic = typeof req.query['topic'] === 'string' ? req.query['topic'] : 'general';
    const found = GUIDELINES.filter((g) => g.topic === topic || g.topic === 'general');
    res.json({ topic, guidelines: found, caller: req.auth?.subject });
  });

  app.post('/internal/flows', auth.requireServiceToken(SERVICES.worker), (req, res) => {
    const body = req.body as Partial<IndexedFlow> | undefined;
    if (typeof body?.flowId !== 'string' || typeof body.workspaceId !== 'string' || typeof body.title !== 'string') {
      res.status(400).json({ error: 'invalid_request', message: 'flowId, workspaceId and title are required' });
      return;
    }
    const flow: IndexedFlow = { flowId: body.flowId, workspaceId: body.workspaceId, title: body.title, steps: typeof body.steps === 'number' ? body.steps : 0, indexedBy: req.auth?.subject ?? '' };
    const existing = flows.findIndex((f) => f.flowId === flow.flowId);
    if (existing >= 0) flows[existing] = flow; // a redelivered job indexes again: idempotent
    else flows.push(flow);
    if (flows.length > 1000) flows.shift();
    res.status(201).json({ indexed: flow.flowId });
  });

  app.get('/internal/flows', auth.requireServiceToken(SERVICES.flowApi, SERVICES.worker), (_req, res) => {
    res.json({ count: flows.length, flows: flows.slice(-50) });
  });

  return {
    app,
    monitor,
    auth,
    flows,
    async close() {
      await auth.close();
      await monitor.shutdown();
    },
  };
}
