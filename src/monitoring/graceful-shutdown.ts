import type { Server } from 'node:http';
import { sleep, systemClock, type Clock } from '../core/clock.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import { ValidationError } from '../core/validation-error.js';

/** What {@link createGracefulShutdown} drives: a `PerformanceMonitor` fits. */
export interface ShutdownTarget {
  /** Turns readiness to 503 and makes responses carry `Connection: close`. */
  markShuttingDown(): void;
  /** Flushes spans and stops timers. */
  shutdown(): Promise<void>;
}

/** Options of {@link createGracefulShutdown}. */
export interface GracefulShutdownOptions {
  /** Marked not ready first, shut down last (a `PerformanceMonitor`). Default none. */
  monitor?: ShutdownTarget;
  /** Time between turning not ready and closing the listener, so load balancers stop sending traffic, in ms. Default `0`. */
  readinessDelayMs?: number;
  /** Time in-flight requests get to finish before their connections are cut, in ms. Default `10000`. */
  drainTimeoutMs?: number;
  /** Runs after the server drained and before the monitor shuts down (close queues, Redis…). Errors are logged. Default none. */
  onDrained?: () => unknown;
  /**
   * Signals that start the shutdown (e.g. `['SIGTERM', 'SIGINT']`); the process then exits with
   * code 0 (1 when a step failed). Default none: no process hooks unless asked for.
   */
  signals?: readonly NodeJS.Signals[];
  /** Default the system clock. */
  clock?: Clock;
  /** Default silent. */
  logger?: Logger;
}

/** The handle {@link createGracefulShutdown} returns. */
export interface GracefulShutdown {
  /** Runs the shutdown; idempotent (later calls return the same promise). Safe to destructure. */
  readonly shutdown: () => Promise<void>;
  /** Removes the signal handlers it installed. */
  readonly dispose: () => void;
}

/**
 * Graceful shutdown of an HTTP server: mark not ready (readiness 503), wait `readinessDelayMs`,
 * stop accepting connections, close idle keep-alive sockets (they would otherwise hold
 * `server.close()` open), let in-flight requests finish (up to `drainTimeoutMs`, then cut the
 * remaining connections), run `onDrained`, and flush spans.
 *
 * @example
 * ```ts
 * const server = app.listen(3000);
 * createGracefulShutdown(server, { monitor: performanceMonitor, readinessDelayMs: 5000, signals: ['SIGTERM'],
 *   onDrained: () => messageQueue.close() });
 * ```
 */
export function createGracefulShutdown(server: Server, options: GracefulShutdownOptions = {}): GracefulShutdown {
  const readinessDelayMs = options.readinessDelayMs ?? 0;
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  if (!Number.isFinite(readinessDelayMs) || readinessDelayMs < 0) throw new ValidationError('readinessDelayMs', 'must be a non-negative number of ms');
  if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) throw new ValidationError('drainTimeoutMs', 'must be a non-negative number of ms');
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? createSilentLogger();
  const { monitor } = options;

  const shutdown = once(async (): Promise<void> => {
    log.info({ readinessDelayMs, drainTimeoutMs }, 'graceful shutdown started');
    monitor?.markShuttingDown();
    if (readinessDelayMs > 0) await sleep(readinessDelayMs, { clock });
    await drain(server, drainTimeoutMs, clock, log);
    let failed: unknown;
    try {
      await options.onDrained?.();
    } catch (error) {
      failed = error;
      log.error({ err: error }, 'graceful shutdown: onDrained failed');
    }
    try {
      await monitor?.shutdown();
    } catch (error) {
      failed ??= error;
      log.error({ err: error }, 'graceful shutdown: monitor shutdown failed');
    }
    log.info('graceful shutdown complete');
    if (failed !== undefined) throw failed instanceof Error ? failed : new Error('graceful shutdown failed', { cause: failed });
  });

  const signals = options.signals ?? [];
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutdown signal received');
    shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  for (const signal of signals) process.once(signal, onSignal);
  return {
    shutdown,
    dispose: () => {
      for (const signal of signals) process.removeListener(signal, onSignal);
    },
  };
}

async function drain(server: Server, drainTimeoutMs: number, clock: Clock, log: Logger): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    let done = false;
    let sweep: ReturnType<Clock['setTimeout']> | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (sweep !== undefined) clock.clearTimeout(sweep);
      clock.clearTimeout(deadline);
      resolve();
    };
    server.close(() => {
      finish();
    });
    // Keep-alive sockets become idle as their last response ends: close them as they do.
    const closeIdle = (): void => {
      server.closeIdleConnections();
      if (!done) sweep = clock.setTimeout(closeIdle, 50);
    };
    closeIdle();
    const deadline = clock.setTimeout(() => {
      log.warn({ drainTimeoutMs }, 'graceful shutdown: drain timed out, closing remaining connections');
      server.closeAllConnections();
      finish();
    }, drainTimeoutMs);
  });
}
