import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../core/clock.js';
import { ValidationError } from '../core/validation-error.js';
import { pathOf } from './http-route.js';

/**
 * A dependency check: resolve (with anything but `false`) when healthy, throw or resolve
 * `false` when not. It gets an `AbortSignal` that fires at its timeout. A returned object is
 * shown as `details`.
 */
export type HealthCheckFn = (signal: AbortSignal) => unknown;

/** Options of one check. */
export interface HealthCheckOptions {
  /** Time the check may take before it counts as down, in ms. Default `2000`. */
  timeoutMs?: number;
  /** A failing critical check makes the service not ready; a non-critical one is only reported. Default `true`. */
  critical?: boolean;
}

/** The outcome of one check in a readiness report. */
export interface HealthCheckResult {
  readonly status: 'up' | 'down';
  readonly critical: boolean;
  readonly durationMs: number;
  /** Why it is down (message only, never a stack). */
  readonly error?: string;
  /** What the check returned, when it returned an object. */
  readonly details?: unknown;
}

/** The readiness state of the service. */
export type ReadinessStatus = 'ready' | 'not_ready' | 'shutting_down';

/** The JSON body of `/health/ready`. */
export interface ReadinessReport {
  readonly status: ReadinessStatus;
  readonly checks: Readonly<Record<string, HealthCheckResult>>;
  /** Epoch ms of the report. */
  readonly timestamp: number;
}

/** Options of {@link HealthChecks.handler}. */
export interface HealthHandlerOptions {
  /** Liveness path. Default `'/health/live'`. */
  livePath?: string;
  /** Readiness path. Default `'/health/ready'`. */
  readyPath?: string;
}

interface RegisteredCheck {
  readonly fn: HealthCheckFn;
  readonly timeoutMs: number;
  readonly critical: boolean;
}

/**
 * Liveness and readiness of a service: registered dependency checks (Redis, queue, SMTP…) run in
 * parallel with timeouts, a ready flag the service controls, and a shutting-down state that turns
 * readiness to 503 while in-flight work drains (Kubernetes then stops routing traffic here).
 * Concurrent readiness probes share one run of the checks.
 *
 * @example
 * ```ts
 * const health = new HealthChecks();
 * health.register('redis', () => redis.ping(), { timeoutMs: 500 });
 * app.use(health.handler()); // GET /health/live, GET /health/ready
 * ```
 */
export class HealthChecks {
  private readonly checks = new Map<string, RegisteredCheck>();
  private readonly clock: Clock;
  private ready = true;
  private shuttingDown = false;
  private running: Promise<ReadinessReport> | undefined;

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Adds (or replaces) a named check.
   *
   * @example
   * ```ts
   * health.register('smtp', () => transporter.verify(), { timeoutMs: 3000, critical: false });
   * ```
   */
  register(name: string, fn: HealthCheckFn, options: HealthCheckOptions = {}): void {
    if (typeof name !== 'string' || name === '') throw new ValidationError('name', 'must be a non-empty string');
    if (typeof fn !== 'function') throw new ValidationError('fn', 'must be a function');
    const timeoutMs = options.timeoutMs ?? 2000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ValidationError('timeoutMs', 'must be a positive number of ms');
    this.checks.set(name, { fn, timeoutMs, critical: options.critical ?? true });
  }

  /** Removes a check; `false` when there was none by that name. */
  unregister(name: string): boolean {
    return this.checks.delete(name);
  }

  /**
   * Sets whether the service is ready to take traffic (default ready). Use `false` while warming up.
   *
   * @example
   * ```ts
   * health.setReady(false); await warmCaches(); health.setReady(true);
   * ```
   */
  setReady(ready: boolean): void {
    this.ready = ready;
  }

  /** Turns readiness to `shutting_down` for good (503), whatever the checks say. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /** `true` once {@link markShuttingDown} was called. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Runs every check (in parallel, each with its timeout) and reports readiness.
   *
   * @example
   * ```ts
   * const report = await health.check();
   * if (report.status !== 'ready') console.warn(report.checks);
   * ```
   */
  check(): Promise<ReadinessReport> {
    this.running ??= this.runChecks().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * A middleware answering `GET`/`HEAD` on the liveness path (200 while the process runs) and
   * the readiness path (200 when ready, 503 otherwise, JSON details); other requests go to
   * `next` (or get 404 without one). Works with Express, Connect and `http.createServer`.
   *
   * @example
   * ```ts
   * http.createServer(health.handler()).listen(9464); // a separate port, like lightship
   * ```
   */
  handler(options: HealthHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void {
    const livePath = options.livePath ?? '/health/live';
    const readyPath = options.readyPath ?? '/health/ready';
    return (req, res, next) => {
      const path = pathOf((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url);
      const isProbe = req.method === 'GET' || req.method === 'HEAD';
      if (isProbe && path === livePath) {
        send(req, res, 200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
      } else if (isProbe && path === readyPath) {
        this.check().then(
          (report) => {
            send(req, res, report.status === 'ready' ? 200 : 503, report);
          },
          (error: unknown) => {
            send(req, res, 503, { status: 'not_ready', error: error instanceof Error ? error.message : String(error) });
          },
        );
      } else if (next !== undefined) {
        next();
      } else {
        send(req, res, 404, { error: 'not found' });
      }
    };
  }

  private async runChecks(): Promise<ReadinessReport> {
    const entries = [...this.checks];
    const results = await Promise.all(entries.map(([, check]) => this.runOne(check)));
    const checks: Record<string, HealthCheckResult> = {};
    let healthy = true;
    entries.forEach(([name], index) => {
      const result = results[index];
      if (result === undefined) return;
      checks[name] = result;
      if (result.critical && result.status === 'down') healthy = false;
    });
    const status: ReadinessStatus = this.shuttingDown ? 'shutting_down' : this.ready && healthy ? 'ready' : 'not_ready';
    return { status, checks, timestamp: this.clock.now() };
  }

  private async runOne(check: RegisteredCheck): Promise<HealthCheckResult> {
    const started = this.clock.monotonic();
    const controller = new AbortController();
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const error = new Error(`timed out after ${check.timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, check.timeoutMs);
    });
    const base = { critical: check.critical };
    try {
      const value: unknown = await Promise.race([Promise.resolve().then(() => check.fn(controller.signal)), timeout]);
      const durationMs = this.clock.monotonic() - started;
      if (value === false) return { ...base, status: 'down', durationMs, error: 'check returned false' };
      return value !== null && typeof value === 'object' ? { ...base, status: 'up', durationMs, details: value } : { ...base, status: 'up', durationMs };
    } catch (error) {
      return { ...base, status: 'down', durationMs: this.clock.monotonic() - started, error: error instanceof Error ? error.message : String(error) };
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }
  }
}

function send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(req.method === 'HEAD' ? undefined : payload);
}
