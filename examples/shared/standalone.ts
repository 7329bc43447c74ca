/**
 * Runs one example service as its own process: configuration from the environment, Redis from
 * REDIS_URL, JSON logs, graceful shutdown on SIGTERM/SIGINT. Prints `<service> listening on <url>`.
 */
import type { Server } from 'node:http';
import type { Express } from 'express';
import { createConsoleLogger, type Logger, type PerformanceMonitor } from '@ux-flow/common';
import { env, readEnv } from '@ux-flow/common/core';
import type { Redis } from 'ioredis';
import { connectRedis, redisHost } from './dev-config.js';
import { openServer, type ServiceRuntime } from './service-kit.js';

/** What a service factory gives back to the runner. */
export interface RunnableService {
  app: Express;
  monitor: PerformanceMonitor;
  close(): Promise<void>;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Starts `build` as a standalone process. `requireRedis`: refuse to start without Redis. */
export async function runStandalone(
  name: string,
  build: (runtime: ServiceRuntime, self: { url: string; server: Server; logger: Logger }) => Promise<RunnableService> | RunnableService,
  options: { requireRedis: boolean; defaultPort: number },
): Promise<void> {
  const level = readEnv('LOG_LEVEL', env.oneOf('Log level', LOG_LEVELS, { default: 'info' }));
  const logger = createConsoleLogger({ level, bindings: { service: name } });
  const port = readEnv('PORT', env.integer('HTTP port', { default: options.defaultPort, min: 0, max: 65_535 }));
  const redisUrl = readEnv('REDIS_URL', env.string('Redis URL', { default: 'redis://127.0.0.1:6379' }));
  let redis: Redis | undefined;
  if (options.requireRedis) {
    redis = await connectRedis(redisUrl);
    if (redis === undefined) {
      logger.fatal({ redis: redisHost(redisUrl) }, `${name} needs Redis as a separate process (run "npm run demo" for the all-in-one mode)`);
      process.exit(1);
    }
  }
  const runtime: ServiceRuntime = {
    ...(redis === undefined ? {} : { redis }),
    prefix: readEnv('UXFLOW_PREFIX', env.string('Key prefix of the example services', { default: 'uxflow-example' })),
    logger,
    lockDurationMs: readEnv('QUEUE_LOCK_MS', env.integer('Queue lock duration (ms)', { default: 30_000, min: 100 })),
    stalledIntervalMs: readEnv('QUEUE_STALLED_MS', env.integer('Stalled check period (ms)', { default: 30_000, min: 100 })),
  };
  const { server, url } = await openServer(port, readEnv('HOST', env.string('Listen address', { default: '127.0.0.1' })));
  const service = await build(runtime, { url, server, logger });
  server.on('request', service.app);
  service.monitor.gracefulShutdown(server, {
    signals: ['SIGTERM', 'SIGINT'],
    drainTimeoutMs: 5000,
    logger,
    onDrained: async () => {
      await service.close();
      await redis?.quit();
    },
  });
  process.stdout.write(`${name} listening on ${url}\n`);
}
