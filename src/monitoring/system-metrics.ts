import { EventEmitter } from 'node:events';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver, performance, type EventLoopUtilization, type IntervalHistogram, type PerformanceEntry } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { configValue } from '../core/config.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import { ValidationError } from '../core/validation-error.js';
import { AlertEvaluator, type AlertEvent, type AlertRule } from './alert-evaluator.js';
import { emitAlerts, emitSafely } from './safe-emit.js';

/** One reading of the process and host, taken by {@link SystemMetrics.sample}. */
export interface SystemSnapshot {
  /** Epoch ms of the reading (from the injected clock). */
  readonly at: number;
  /** CPU time of this process over the last interval, as a share of all cores (0–1). */
  readonly processCpuUtilization: number;
  /** Busy share of the host's CPUs over the last interval (0–1). */
  readonly systemCpuUtilization: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** Event-loop delay percentiles over the last interval (`monitorEventLoopDelay`), in ms. */
  readonly eventLoopDelayP50Ms: number;
  readonly eventLoopDelayP99Ms: number;
  readonly eventLoopDelayMaxMs: number;
  /** Share of the last interval the event loop was busy (0–1). */
  readonly eventLoopUtilization: number;
  /** GC pause time during the last interval, in ms, all kinds. */
  readonly gcPauseMs: number;
  /** GC pause time during the last interval by kind, in ms. */
  readonly gcPauseMsByKind: Readonly<Record<GcKind, number>>;
  readonly loadAverage1m: number;
  readonly loadAverage5m: number;
  readonly loadAverage15m: number;
  /** Active libuv handles and requests (sockets, timers, …). */
  readonly activeHandles: number;
}

/** The kinds of GC pause reported. */
export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb';

/** A metric of {@link SystemSnapshot} alerts can watch. */
export type SystemMetricName = {
  [K in keyof SystemSnapshot]: SystemSnapshot[K] extends number ? (K extends 'at' ? never : K) : never;
}[keyof SystemSnapshot];

/** Events of {@link SystemMetrics}. */
export interface SystemMetricsEvents {
  /** A new reading. */
  sample: [SystemSnapshot];
  /** A threshold was breached for its duration. */
  alert: [AlertEvent];
  /** A firing alert's metric came back (past the resolve threshold, for its duration). */
  'alert:resolved': [AlertEvent];
  /** A listener threw. */
  error: [unknown];
}

/** Options of {@link SystemMetrics}. */
export interface SystemMetricsOptions {
  /** Time between two readings, in ms. Default `5000`. */
  intervalMs?: number;
  /** Resolution of the event-loop delay histogram, in ms. Default `10`. */
  eventLoopResolutionMs?: number;
  /** Alert rules. Default {@link DEFAULT_SYSTEM_ALERTS}; pass `[]` for none. */
  alerts?: readonly AlertRule<SystemMetricName>[];
  /** Log alerts (warn) and resolutions (info). Default `ENABLE_PERFORMANCE_ALERTS`, else `false`. */
  logAlerts?: boolean;
  /** Registry the gauges are registered in. Default none (call {@link SystemMetrics.registerMetrics}). */
  registry?: Registry;
  /** Clock of the sampling schedule and alert durations. Default the system clock. */
  clock?: Clock;
  /** Default silent. */
  logger?: Logger;
  /** Environment read for configuration. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Default system alerts: event-loop p99 delay above 200 ms for 30 s, event-loop utilization above
 * 90% for 60 s.
 */
export const DEFAULT_SYSTEM_ALERTS: readonly AlertRule<SystemMetricName>[] = Object.freeze([
  { metric: 'eventLoopDelayP99Ms', threshold: 200, forMs: 30_000 },
  { metric: 'eventLoopUtilization', threshold: 0.9, forMs: 60_000 },
]);

const GC_KINDS: Readonly<Record<number, GcKind>> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const emptyGc = (): Record<GcKind, number> => ({ minor: 0, major: 0, incremental: 0, weakcb: 0 });

/**
 * Samples the process and host on an `unref()`'d interval: CPU (process and system), memory,
 * event-loop delay (p50/p99/max) and utilization, GC pauses by kind, load average and active
 * handles. Emits `sample`, and `alert`/`alert:resolved` with hysteresis from its rules, and
 * exposes it all as Prometheus gauges.
 *
 * @example
 * ```ts
 * const system = new SystemMetrics({ registry, alerts: [{ metric: 'eventLoopDelayP99Ms', threshold: 200, forMs: 30_000 }] });
 * system.on('alert', (alert) => pager.notify(alert.name, alert.value));
 * system.start();
 * ```
 */
export class SystemMetrics extends EventEmitter<SystemMetricsEvents> {
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly logAlerts: boolean;
  private readonly alerts: AlertEvaluator<SystemMetricName>;
  private readonly delay: IntervalHistogram;
  private readonly cores = availableParallelism();
  private gcObserver: PerformanceObserver | undefined;
  private gcInterval: Record<GcKind, number> = emptyGc();
  private gcCounter: Counter<'kind'> | undefined;
  private timer: TimerHandle | undefined;
  private running = false;
  private lastCpu = process.cpuUsage();
  private lastHostCpu = hostCpuTimes();
  private lastWallMs = performance.now();
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private current: SystemSnapshot | undefined;

  /** @throws ValidationError naming the bad option. */
  constructor(options: SystemMetricsOptions = {}) {
    super();
    this.intervalMs = options.intervalMs ?? 5000;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs < 100) throw new ValidationError('intervalMs', 'must be a number of ms, at least 100');
    const resolution = options.eventLoopResolutionMs ?? 10;
    if (!Number.isInteger(resolution) || resolution < 1) throw new ValidationError('eventLoopResolutionMs', 'must be a positive integer');
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? createSilentLogger();
    this.logAlerts = configValue('ENABLE_PERFORMANCE_ALERTS', options.logAlerts, options.env ?? process.env);
    this.alerts = new AlertEvaluator(options.alerts ?? DEFAULT_SYSTEM_ALERTS);
    this.delay = monitorEventLoopDelay({ resolution });
    if (options.registry !== undefined) this.registerMetrics(options.registry);
  }

  /** The last reading, `undefined` before the first. */
  get latest(): SystemSnapshot | undefined {
    return this.current;
  }

  /** Names of the alerts currently firing. */
  get firingAlerts(): string[] {
    return this.alerts.firing;
  }

  /**
   * Starts sampling every `intervalMs`. Idempotent.
   *
   * @example
   * ```ts
   * new SystemMetrics().start();
   * ```
   */
  start(): this {
    if (this.running) return this;
    this.running = true;
    this.delay.enable();
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = GC_KINDS[(entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1];
        if (kind === undefined) continue;
        this.gcInterval[kind] += entry.duration;
        this.gcCounter?.inc({ kind }, entry.duration / 1000);
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.resetBaselines();
    this.schedule();
    return this;
  }

  /**
   * Stops sampling (the last reading stays available). Idempotent; `start()` resumes.
   *
   * @example
   * ```ts
   * system.stop();
   * ```
   */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.delay.disable();
    this.gcObserver?.disconnect();
    this.gcObserver = undefined;
  }

  /**
   * Stops sampling for good. Idempotent.
   *
   * @example
   * ```ts
   * await system.close();
   * ```
   */
  readonly close = once((): Promise<void> => {
    this.stop();
    return Promise.resolve();
  });

  /**
   * Takes a reading now (covering the time since the previous one), evaluates the alerts and
   * emits `sample`. The interval calls this; call it yourself for an on-demand reading.
   *
   * @example
   * ```ts
   * const { eventLoopDelayP99Ms, heapUsedBytes } = system.sample();
   * ```
   */
  sample(): SystemSnapshot {
    const wallMs = performance.now();
    const elapsedMicros = Math.max(1, (wallMs - this.lastWallMs) * 1000);
    const cpu = process.cpuUsage(this.lastCpu);
    const host = hostCpuTimes();
    const hostTotal = host.total - this.lastHostCpu.total;
    const hostIdle = host.idle - this.lastHostCpu.idle;
    const elu = performance.eventLoopUtilization(this.lastElu);
    const memory = process.memoryUsage();
    const [load1 = 0, load5 = 0, load15 = 0] = loadavg();
    const enabled = this.running && this.delay.count > 0;
    const gc = this.gcInterval;
    const snapshot: SystemSnapshot = {
      at: this.clock.now(),
      processCpuUtilization: clamp01((cpu.user + cpu.system) / elapsedMicros / this.cores),
      systemCpuUtilization: hostTotal > 0 ? clamp01(1 - hostIdle / hostTotal) : 0,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
      eventLoopDelayP50Ms: enabled ? this.delay.percentile(50) / 1e6 : 0,
      eventLoopDelayP99Ms: enabled ? this.delay.percentile(99) / 1e6 : 0,
      eventLoopDelayMaxMs: enabled ? this.delay.max / 1e6 : 0,
      eventLoopUtilization: elu.utilization,
      gcPauseMs: gc.minor + gc.major + gc.incremental + gc.weakcb,
      gcPauseMsByKind: gc,
      loadAverage1m: load1,
      loadAverage5m: load5,
      loadAverage15m: load15,
      activeHandles: process.getActiveResourcesInfo().length,
    };
    this.resetBaselines(wallMs, host);
    this.current = snapshot;
    emitSafely(this, this.log, 'sample', snapshot);
    emitAlerts(this, this.log, this.logAlerts, this.alerts.evaluate(snapshot, snapshot.at));
    return snapshot;
  }

  /**
   * Registers the gauges (and the GC pause counter) in `registry`: `process_cpu_utilization_ratio`,
   * `system_cpu_utilization_ratio`, `nodejs_memory_bytes{type}`, `nodejs_eventloop_delay_{p50,p99,max}_seconds`,
   * `nodejs_eventloop_utilization_ratio`, `nodejs_gc_pause_seconds_total{kind}`, `system_load_average{window}`,
   * `nodejs_handles_active`. Values are those of the last reading.
   *
   * @example
   * ```ts
   * system.registerMetrics(monitor.registry);
   * ```
   */
  registerMetrics(registry: Registry): void {
    const latest = (): SystemSnapshot | undefined => this.current;
    const gauge = (name: string, help: string, read: (s: SystemSnapshot) => number): void => {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          const snapshot = latest();
          if (snapshot !== undefined) this.set(read(snapshot));
        },
      });
    };
    gauge('process_cpu_utilization_ratio', 'CPU time of the process over the last interval, share of all cores', (s) => s.processCpuUtilization);
    gauge('system_cpu_utilization_ratio', 'Busy share of the host CPUs over the last interval', (s) => s.systemCpuUtilization);
    gauge('nodejs_eventloop_delay_p50_seconds', 'Median event-loop delay over the last interval', (s) => s.eventLoopDelayP50Ms / 1000);
    gauge('nodejs_eventloop_delay_p99_seconds', '99th percentile event-loop delay over the last interval', (s) => s.eventLoopDelayP99Ms / 1000);
    gauge('nodejs_eventloop_delay_max_seconds', 'Longest event-loop delay over the last interval', (s) => s.eventLoopDelayMaxMs / 1000);
    gauge('nodejs_eventloop_utilization_ratio', 'Share of the last interval the event loop was busy', (s) => s.eventLoopUtilization);
    gauge('nodejs_handles_active', 'Active libuv handles and requests', (s) => s.activeHandles);
    new Gauge({
      name: 'nodejs_memory_bytes',
      help: 'Process memory by type (rss, heap_used, heap_total, external, array_buffers)',
      labelNames: ['type'],
      registers: [registry],
      collect() {
        const s = latest();
        if (s === undefined) return;
        this.set({ type: 'rss' }, s.rssBytes);
        this.set({ type: 'heap_used' }, s.heapUsedBytes);
        this.set({ type: 'heap_total' }, s.heapTotalBytes);
        this.set({ type: 'external' }, s.externalBytes);
        this.set({ type: 'array_buffers' }, s.arrayBuffersBytes);
      },
    });
    new Gauge({
      name: 'system_load_average',
      help: 'Host load average by window (1m, 5m, 15m)',
      labelNames: ['window'],
      registers: [registry],
      collect() {
        const s = latest();
        if (s === undefined) return;
        this.set({ window: '1m' }, s.loadAverage1m);
        this.set({ window: '5m' }, s.loadAverage5m);
        this.set({ window: '15m' }, s.loadAverage15m);
      },
    });
    this.gcCounter = new Counter({ name: 'nodejs_gc_pause_seconds_total', help: 'Time spent in GC pauses by kind', labelNames: ['kind'], registers: [registry] });
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => {
      if (!this.running) return;
      try {
        this.sample();
      } catch (error) {
        this.log.error({ err: error }, 'system metrics sample failed');
      }
      this.schedule();
    }, this.intervalMs);
  }

  private resetBaselines(wallMs = performance.now(), host = hostCpuTimes()): void {
    this.lastWallMs = wallMs;
    this.lastCpu = process.cpuUsage();
    this.lastHostCpu = host;
    this.lastElu = performance.eventLoopUtilization();
    this.gcInterval = emptyGc();
    this.delay.reset();
  }
}

function hostCpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const { user, nice, sys, idle: cpuIdle, irq } = cpu.times;
    idle += cpuIdle;
    total += user + nice + sys + cpuIdle + irq;
  }
  return { idle, total };
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
