/**
 * What every example service does the same way: a performance monitor, the shared queue (Redis
 * or in-memory), listening on a port. Kept small so each service file reads as the integration
 * code in ARCHITECTURE.md.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import {
  createSilentLogger,
  type EnhancedEmailService,
  initializeEnhancedEmailService,
  initializeMessageQueue,
  initializePerformanceMonitor,
  type Logger,
  type PerformanceMonitor,
} from '@ux-flow/common';
import { type EmailStateStore, MemoryEmailStore } from '@ux-flow/common/communication';
import type { DistributedTracerOptions } from '@ux-flow/common/monitoring';
import { createInMemoryMessageQueue, type MemoryQueueBackend, type MessageQueue, type MessageQueueOptions } from '@ux-flow/common/queue';
import { QUEUE_NAME, secret } from './dev-config.js';

/** Where a service keeps state and sends telemetry; one per process (or shared by the demo). */
export interface ServiceRuntime {
  /** Redis client (kept open by the services). Absent: in-memory drivers. */
  redis?: Redis;
  /** Shared in-memory queue storage, when several services run in one process without Redis. */
  memoryBackend?: MemoryQueueBackend;
  /**
   * Shared in-memory email state (idempotency keys, suppression list, statistics), when several
   * services run in one process without Redis. Ignored when `redis` is set.
   */
  emailStore?: EmailStateStore;
  /** Key prefix for everything the services store in Redis. Default `'uxflow-example'`. */
  prefix?: string;
  /** Default silent. */
  logger?: Logger;
  /** Trace requests and jobs. Default `ENABLE_TRACING`. */
  enableTracing?: boolean;
  /** Tracer options (exporter, sample rate). Default from the environment. */
  tracing?: DistributedTracerOptions;
  /** Sample CPU, memory and the event loop. Default `ENABLE_SYSTEM_METRICS` (true). */
  enableSystemMetrics?: boolean;
  /** Queue lock duration, in ms (how soon a crashed worker's job is taken back). Default 30 000. */
  lockDurationMs?: number;
  /** Stalled-job check period, in ms. Default 30 000. */
  stalledIntervalMs?: number;
}

/** The performance monitor of one service, configured from the runtime. */
export function createMonitor(serviceName: string, runtime: ServiceRuntime): PerformanceMonitor {
  return initializePerformanceMonitor(serviceName, {
    ...(runtime.enableTracing === undefined ? {} : { enableTracing: runtime.enableTracing }),
    ...(runtime.enableSystemMetrics === undefined ? {} : { enableSystemMetrics: runtime.enableSystemMetrics }),
    ...(runtime.tracing === undefined ? {} : { tracing: runtime.tracing }),
    defaultLabels: { service: serviceName },
    ...(runtime.logger === undefined ? {} : { logger: runtime.logger }),
  });
}

/** The shared `flows` queue: on Redis when there is one, else on the in-memory driver. */
export function createQueue(runtime: ServiceRuntime, monitor: PerformanceMonitor, options: Omit<MessageQueueOptions, 'redis' | 'backend' | 'logger'> = {}): MessageQueue {
  const logger = runtime.logger ?? createSilentLogger();
  const settings: Omit<MessageQueueOptions, 'redis' | 'logger'> = {
    name: QUEUE_NAME,
    prefix: runtime.prefix ?? 'uxflow-example',
    ...(monitor.tracer === undefined ? {} : { telemetry: monitor.tracer.messagingTelemetry() }),
    ...(runtime.lockDurationMs === undefined ? {} : { lockDurationMs: runtime.lockDurationMs }),
    ...(runtime.stalledIntervalMs === undefined ? {} : { stalledIntervalMs: runtime.stalledIntervalMs }),
    ...options,
  };
  if (runtime.redis !== undefined) return initializeMessageQueue(runtime.redis, logger, settings);
  return createInMemoryMessageQueue({ ...settings, logger, ...(runtime.memoryBackend === undefined ? {} : { backend: runtime.memoryBackend }) });
}

/**
 * The email service of flow-api and the worker, with the same sender, templates and tracking
 * secret (the worker signs the links flow-api's router checks). Provider from EMAIL_PROVIDER
 * (default 'dev': files in EMAIL_DEV_DIR, default .outbox/); state (idempotency keys,
 * suppression list, statistics) in Redis, or in the process without it.
 */
export function createEmailService(
  settings: { redis?: Redis; emailStore?: EmailStateStore; prefix: string; publicUrl: string; env: NodeJS.ProcessEnv },
  monitor: PerformanceMonitor,
  queue: MessageQueue,
  logger: Logger | undefined,
): EnhancedEmailService {
  return initializeEnhancedEmailService(
    {
      defaultFrom: { name: 'UX Flow', address: 'no-reply@ux-flow.example' },
      ...(settings.redis !== undefined ? { redis: settings.redis } : { store: settings.emailStore ?? new MemoryEmailStore() }),
      prefix: settings.prefix,
      templateDefaults: { productName: 'UX Flow' },
      tracking: { baseUrl: `${settings.publicUrl}/email`, secret: secret('EMAIL_TRACKING_SECRET', settings.env) },
      metricsRegistry: monitor.registry,
      env: settings.env,
    },
    logger,
    queue,
  );
}

/**
 * Listens on `port` (0: any free port) before the app exists, so a service can be built knowing
 * its own URL (email links point back to it); attach the app with `server.on('request', app)`.
 */
export async function openServer(port: number, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host}:${address.port}` };
}

/** Reads an integer environment variable, failing loudly on a typo. */
export function intEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer (got "${raw}")`);
  return value;
}

/** Closes an HTTP server, cutting idle keep-alive sockets. */
export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
