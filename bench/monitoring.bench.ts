/**
 * Requests/s of a small Express 5 app, side by side in one run:
 *   bare   - no instrumentation
 *   ours   - @ux-flow/common/monitoring: PerformanceMonitor middleware, tracing at 10% sampling
 *            (Zipkin exporter) + Prometheus metrics + system metrics
 *   otel   - OpenTelemetry NodeSDK + instrumentation-http + instrumentation-express (10% sampling,
 *            Zipkin exporter) + express-prom-bundle
 * and, when asked for with BENCH_VARIANTS (see below), two references:
 *   ours-notrace - our monitor with tracing off (metrics, correlation ids, system metrics)
 *   als-floor    - bare plus one AsyncLocalStorage.run per request and nothing else
 *   floor        - the least any middleware meeting the issue does per request: a correlation id
 *                  in AsyncLocalStorage, echoed as a header, and the duration put into a histogram
 *                  when the response closes (what no implementation can avoid, for comparison)
 * and four that split the tracer's cost: ours-rate0 / ours-rate1 (tracing at sample rate 0 / 1),
 * ours-noexport (10%, no exporter) and ours-young (10%, spans exported within 100 ms in batches
 * of 64 so they die young in the heap).
 * Each variant runs in its own child process (auto-instrumentation patches modules globally);
 * this process runs autocannon (loopback, 50 connections) and a span sink both exporters send to.
 * All servers stay up and the load moves between them in short slices (BENCH_SLICE_S, 2 s),
 * one slice per variant per round in rotating order (BENCH_ROUNDS, 24), so slow phases of the
 * machine hit all variants alike; ratios are computed per round and their median reported, with
 * the interquartile range. Every few rounds (BENCH_EPOCHS, 4) all servers restart, in a rotated
 * start order, because one process can run several percent off the next one of the same code.
 * Servers are pinned to CPU 1 and this process to CPU 0 where `taskset` exists (BENCH_PIN=0 to
 * turn off).
 *
 * Run: npm run bench -- monitoring   (or: npm run build && npx tsx bench/monitoring.bench.ts)
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Express } from 'express';
import type expressModule from 'express';
import type promBundleModule from 'express-prom-bundle';
import type * as monitoringModule from '@ux-flow/common/monitoring';

const ALL_VARIANTS = ['bare', 'ours', 'otel', 'ours-notrace', 'als-floor', 'floor', 'ours-rate0', 'ours-rate1', 'ours-rate50', 'ours-noexport', 'ours-young'] as const;
type Variant = (typeof ALL_VARIANTS)[number];
// The three of the issue; add `ours-notrace` (metrics only, no tracer) and `als-floor` (bare plus one
// AsyncLocalStorage.run per request: what request-scoped context costs by itself on this Node) and
// `floor` (the least any middleware meeting the issue does per request: a correlation id in
// AsyncLocalStorage, echoed as a header, and the duration observed into a histogram when the
// response closes) with BENCH_VARIANTS=bare,ours,otel,ours-notrace,als-floor,floor. To see where tracing's cost lies:
// `ours-rate0` / `ours-rate1` (tracing on at sampleRate 0 / 1) and `ours-noexport` (10%, spans
// recorded and batched but no exporter). BENCH_CHILD_FLAGS passes Node flags to the servers
// (e.g. `--single-threaded-gc`).
const VARIANTS: readonly Variant[] = (process.env['BENCH_VARIANTS'] ?? 'bare,ours,otel').split(',').map((name) => {
  const variant = ALL_VARIANTS.find((known) => known === name);
  if (variant === undefined) throw new Error(`BENCH_VARIANTS: unknown variant "${name}" (known: ${ALL_VARIANTS.join(', ')})`);
  return variant;
});
for (const required of ['bare', 'ours', 'otel'] as const) {
  if (!VARIANTS.includes(required)) throw new Error(`BENCH_VARIANTS must include "${required}"`);
}
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 24);
const SLICE_S = Number(process.env['BENCH_SLICE_S'] ?? 2);
// Every EPOCH rounds all servers are started afresh: one process of a variant can run several
// percent faster or slower than the next one of the same code (code and heap layout), which
// interleaving cannot average out; several processes per variant can.
const EPOCHS = Math.max(1, Math.min(ROUNDS, Number(process.env['BENCH_EPOCHS'] ?? 4)));
const WARMUP_S = 4;
const VERBOSE = process.env['BENCH_VERBOSE'] === '1';
const CONNECTIONS = 50;
const PATHS = ['/users/42', '/users/7/orders/1001', '/health-of-nothing/404'];

/**
 * The built `@ux-flow/common/monitoring`, found through package.json `exports` as Node resolves it
 * for users (tsx would map the bare specifier to src/ through tsconfig `paths`).
 */
async function importBuilt(): Promise<typeof monitoringModule> {
  const { readFileSync } = await import('node:fs');
  const root = new URL('../', import.meta.url);
  const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const entry = manifest.exports['./monitoring']?.import.default;
  if (entry === undefined) throw new Error('package.json exports no "./monitoring"');
  return (await import(new URL(entry, root).href)) as typeof monitoringModule;
}

// ---------------------------------------------------------------- child: one server variant
async function serve(variant: Variant, sinkUrl: string): Promise<void> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  let prepare: ((app: Express) => void) | undefined;
  let shutdown: () => Promise<void> = async () => undefined;

  if (variant === 'otel') {
    // Must start before express and http are loaded, as the OpenTelemetry docs require.
    const { NodeSDK } = await import('@opentelemetry/sdk-node');
    const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
    const { ZipkinExporter } = await import('@opentelemetry/exporter-zipkin');
    const { ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace-base');
    const sdk = new NodeSDK({
      serviceName: 'bench-otel',
      traceExporter: new ZipkinExporter({ url: `${sinkUrl}/api/v2/spans` }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.1) }),
      instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
    });
    sdk.start();
    const promBundle = require('express-prom-bundle') as typeof promBundleModule;
    prepare = (app) => {
      app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true, normalizePath: [['^/users/\\d+', '/users/#id']] }));
    };
    shutdown = () => sdk.shutdown();
  }
  const express = require('express') as typeof expressModule;
  if (variant === 'als-floor') {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const storage = new AsyncLocalStorage<{ id: number }>();
    let id = 0;
    prepare = (app) => {
      app.use((_req, _res, next) => {
        storage.run({ id: ++id }, next);
      });
    };
  }
  if (variant === 'floor') {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const storage = new AsyncLocalStorage<{ id: string }>();
    const bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    const counts = new Float64Array(bounds.length + 1);
    let id = 0;
    prepare = (app) => {
      app.use((_req, res, next) => {
        const startedAt = performance.now();
        const correlationId = `f00dfeedcafe0000-${(++id).toString(16)}`;
        res.setHeader('x-correlation-id', correlationId);
        res.on('close', () => {
          const seconds = (performance.now() - startedAt) / 1000;
          let bucket = 0;
          while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
          counts[bucket]!++;
        });
        storage.run({ id: correlationId }, next);
      });
    };
  }
  if (variant.startsWith('ours')) {
    const { initializePerformanceMonitor } = await importBuilt();
    // The same Zipkin exporter as the OTel variant, passed in (the built package loads it lazily
    // itself once it is an external optional peer).
    const { ZipkinExporter } = await import('@opentelemetry/exporter-zipkin');
    const monitor = initializePerformanceMonitor('bench-ours', {
      enableTracing: variant !== 'ours-notrace',
      enableSystemMetrics: true,
      tracing: {
        sampleRate: variant === 'ours-rate0' ? 0 : variant === 'ours-rate1' ? 1 : variant === 'ours-rate50' ? 0.5 : 0.1,
        exporter: variant === 'ours-noexport' ? 'none' : new ZipkinExporter({ url: `${sinkUrl}/api/v2/spans`, serviceName: 'bench-ours' }),
        // Diagnostics: BENCH_OURS_TRACING='{"scheduledDelayMs":200}' overrides tracer options.
        // `ours-young`: spans exported within 100 ms in batches of 64, so they die young in the heap.
        ...(variant === 'ours-young' ? { scheduledDelayMs: 100, maxExportBatchSize: 64 } : {}),
        ...(JSON.parse(process.env['BENCH_OURS_TRACING'] ?? '{}') as Record<string, unknown>),
      },
    });
    prepare = (app) => {
      app.use(monitor.middleware());
      app.get('/metrics', monitor.metricsHandler());
    };
    shutdown = () => monitor.shutdown();
  }

  const app = express();
  prepare?.(app);
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, name: 'Ada', roles: ['admin'] });
  });
  app.get('/users/:id/orders/:orderId', (req, res) => {
    res.json({ user: req.params.id, order: req.params.orderId, total: 42.5 });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  // Garbage collections during the measured run (the same observer in every variant): their
  // work on V8's helper threads shows in process CPU time but not in a CPU profile.
  const { PerformanceObserver } = await import('node:perf_hooks');
  const gc = { count: 0, ms: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.ms += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  // CPU per request is also read over 250 ms windows: on a shared machine the least disturbed
  // window (the minimum) is the steadiest figure.
  let served = 0;
  server.on('request', () => served++);
  let cpuMark = process.cpuUsage();
  let windows: number[] = [];
  let windowMark = { cpu: cpuMark, served: 0 };
  const windowTimer = setInterval(() => {
    const used = process.cpuUsage(windowMark.cpu);
    if (served > windowMark.served) windows.push((used.user + used.system) / (served - windowMark.served));
    windowMark = { cpu: process.cpuUsage(), served };
  }, 250);
  windowTimer.unref();
  // CPU of the main thread and of all other threads (V8's GC and compiler helpers, libuv's pool),
  // from /proc (Linux; zeros elsewhere): helper-thread work shows in process CPU but not in a profile.
  const { readdirSync, readFileSync } = await import('node:fs');
  const ticksPerSecond = 100;
  const threadTicks = (): { main: number; helpers: number } => {
    const out = { main: 0, helpers: 0 };
    try {
      for (const tid of readdirSync('/proc/self/task')) {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ticks = Number(fields[11]) + Number(fields[12]);
        if (Number(tid) === process.pid) out.main += ticks;
        else out.helpers += ticks;
      }
    } catch {
      // Not Linux: report zeros.
    }
    return out;
  };
  let threadMark = threadTicks();
  process.on('message', (message) => {
    if (message === 'cpu-mark') {
      threadMark = threadTicks();
      cpuMark = process.cpuUsage();
      gc.count = 0;
      gc.ms = 0;
      windows = [];
      windowMark = { cpu: cpuMark, served };
    } else if (message === 'cpu-read') {
      const used = process.cpuUsage(cpuMark);
      const threads = threadTicks();
      process.send?.({
        cpuMicros: used.user + used.system,
        mainMicros: ((threads.main - threadMark.main) * 1e6) / ticksPerSecond,
        helperMicros: ((threads.helpers - threadMark.helpers) * 1e6) / ticksPerSecond,
        gcCount: gc.count,
        gcMs: gc.ms,
        minWindowMicros: Math.min(...windows),
      });
    } else if (message === 'stop') {
      server.closeAllConnections();
      server.close();
      void shutdown().finally(() => process.exit(0));
    }
  });
}

// ---------------------------------------------------------------- parent: load and compare
/**
 * Where the servers and the load generator run. On a machine with two or more CPUs and `taskset`
 * (Linux), every server is pinned to CPU 1 and this process (autocannon, the span sink) to CPU 0:
 * left to the scheduler, each process lands on its own mix of CPUs, and on a VM cross-CPU
 * wake-ups on loopback cost some processes far more than others, which no number of rounds
 * averages out. BENCH_PIN=0 turns it off.
 */
const PIN = process.env['BENCH_PIN'] !== '0' && availableParallelism() >= 2 && hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function start(variant: Variant, sinkUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const nodeArgs = ['--import', 'tsx', ...(process.env['BENCH_CHILD_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '')];
  const child = fork(fileURLToPath(import.meta.url), ['--variant', variant, '--sink', sinkUrl], {
    ...(PIN ? { execPath: 'taskset', execArgv: ['-c', '1', process.execPath, ...nodeArgs] } : { execArgv: nodeArgs }),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port: number }) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send('stop');
  await exited;
}

interface CpuReading {
  cpuMicros: number;
  /** CPU of the main thread and of every other thread (from /proc; 0 where unavailable). */
  mainMicros: number;
  helperMicros: number;
  /** CPU µs per request in the least disturbed 250 ms window. */
  minWindowMicros: number;
  gcCount: number;
  gcMs: number;
}

async function cpuRead(child: ChildProcess): Promise<CpuReading> {
  const reply = new Promise<CpuReading>((resolve) => {
    child.once('message', (message: CpuReading) => resolve(message));
  });
  child.send('cpu-read');
  return reply;
}

async function load(url: string, seconds: number): Promise<{ rps: number; total: number; p99Ms: number; errors: number }> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: PATHS.map((path) => ({ method: 'GET', path })),
  });
  return { rps: result.requests.average, total: result.requests.total, p99Ms: result.latency.p99, errors: result.errors + result.timeouts + result.non2xx - result['4xx'] };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  let exportedBytes = 0;
  const sink: Server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (exportedBytes += chunk.length));
    req.on('end', () => {
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

  // All threads of this process (autocannon, the sink) on CPU 0; the servers go to CPU 1.
  if (PIN) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  console.log(PIN ? 'servers pinned to CPU 1, load generator to CPU 0 (BENCH_PIN=0 to let the scheduler place them)' : 'processes placed by the scheduler');
  console.log(`Express 5, autocannon ${CONNECTIONS} connections; every server stays up and the load moves between them in ${SLICE_S}s slices,`);
  console.log(`${ROUNDS} rounds of one slice per variant in rotating order, in ${EPOCHS} epochs that each start every server afresh (and warm it up for ${WARMUP_S}s)`);
  console.log(`paths: ${PATHS.join(', ')} (the last one is a 404)\n`);
  const servers = new Map<Variant, { child: ChildProcess; url: string }>();
  // Servers start in a different order each epoch: in one order, the second server started ran
  // slower than its code explains in several runs here.
  const startAll = async (epoch: number): Promise<void> => {
    for (const { child } of servers.values()) await stop(child); // flushes the exporters
    for (const variant of VARIANTS.map((_, i) => VARIANTS[(i + epoch) % VARIANTS.length]!)) {
      const server = await start(variant, sinkUrl);
      servers.set(variant, server);
      await load(server.url, WARMUP_S);
    }
  };
  const totals = Object.fromEntries(VARIANTS.map((name) => [name, { requests: 0, seconds: 0, cpuMicros: 0, mainMicros: 0, helperMicros: 0, gcCount: 0, gcMs: 0, errors: 0, best: Infinity }])) as Record<
    Variant,
    { requests: number; seconds: number; cpuMicros: number; mainMicros: number; helperMicros: number; gcCount: number; gcMs: number; errors: number; best: number }
  >;
  const perRound: Record<Variant, number[]> = Object.fromEntries(VARIANTS.map((name) => [name, [] as number[]])) as Record<Variant, number[]>;
  const ratiosToBare: Partial<Record<Variant, number[]>> = {};
  const oursVsOtel: number[] = [];
  const epochCpu: Partial<Record<Variant, { micros: number; requests: number }[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    if (round % Math.ceil(ROUNDS / EPOCHS) === 0) await startAll(round / Math.ceil(ROUNDS / EPOCHS));
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    const measured: Partial<Record<Variant, number>> = {};
    for (const variant of order) {
      const { child, url } = servers.get(variant)!;
      child.send('cpu-mark');
      const sliceStart = performance.now();
      const result = await load(url, SLICE_S);
      const sliceSeconds = (performance.now() - sliceStart) / 1000;
      const reading = await cpuRead(child);
      const total = totals[variant];
      total.requests += result.total;
      total.seconds += sliceSeconds;
      total.cpuMicros += reading.cpuMicros;
      total.mainMicros += reading.mainMicros;
      total.helperMicros += reading.helperMicros;
      total.gcCount += reading.gcCount;
      total.gcMs += reading.gcMs;
      total.errors += result.errors;
      total.best = Math.min(total.best, reading.minWindowMicros);
      const epoch = Math.floor(round / Math.ceil(ROUNDS / EPOCHS));
      const perEpoch = (epochCpu[variant] ??= []);
      perEpoch[epoch] ??= { micros: 0, requests: 0 };
      perEpoch[epoch].micros += reading.cpuMicros;
      perEpoch[epoch].requests += result.total;
      measured[variant] = result.rps;
      perRound[variant].push(result.rps);
    }
    for (const variant of VARIANTS) (ratiosToBare[variant] ??= []).push(measured[variant]! / measured.bare!);
    oursVsOtel.push(measured.ours! / measured.otel!);
    if (VERBOSE) console.log(`round ${String(round + 1).padStart(2)}  ${VARIANTS.map((variant) => `${variant} ${measured[variant]!.toFixed(0)}`).join('  ')}`);
  }
  for (const { child } of servers.values()) await stop(child); // flushes the exporters
  // The last export's bytes may still be in this process's socket buffers when a child's exit is seen.
  await new Promise((resolve) => setTimeout(resolve, 300));
  sink.close();

  console.log('\nper variant, over all its slices (server CPU from the server process; main thread and other threads from /proc):');
  for (const variant of VARIANTS) {
    const t = totals[variant];
    console.log(
      `  ${variant.padEnd(13)} ${(t.requests / t.seconds).toFixed(0).padStart(6)} req/s  median slice ${median(perRound[variant]).toFixed(0).padStart(6)}  server CPU ${(t.cpuMicros / t.requests).toFixed(1).padStart(6)} µs/req (main ${(t.mainMicros / t.requests).toFixed(1)}, other threads ${(t.helperMicros / t.requests).toFixed(1)}, best 250 ms window ${t.best.toFixed(1)})  GC ${t.gcCount} (${((t.gcMs * 1000) / t.requests).toFixed(1)} µs/req)  errors ${t.errors}`,
    );
  }
  console.log(`  span bytes exported in all: ${exportedBytes}`);
  console.log('\nserver CPU µs per request in each epoch (a fresh process each):');
  for (const variant of VARIANTS) console.log(`  ${variant.padEnd(13)} ${(epochCpu[variant] ?? []).map((e) => (e.micros / e.requests).toFixed(1).padStart(6)).join(' ')}`);
  const q = (values: number[], at: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(at * values.length))]!;
  console.log('\nreq/s ratios: median of the per-round ratios [interquartile range], and total requests / total requests:');
  const line = (label: string, values: number[], whole: number, target: string): void => {
    console.log(`  ${label.padEnd(20)} ${median(values).toFixed(3)} [${q(values, 0.25).toFixed(3)}–${q(values, 0.75).toFixed(3)}]  total ${whole.toFixed(3)}  ${target}`);
  };
  const rate = (variant: Variant): number => totals[variant].requests / totals[variant].seconds;
  line('ours / bare', ratiosToBare.ours!, rate('ours') / rate('bare'), '(target >= 0.93)');
  line('ours / OTel auto', oursVsOtel, rate('ours') / rate('otel'), '(target >= 1.5)');
  for (const variant of VARIANTS.filter((name) => name !== 'bare' && name !== 'ours')) line(`${variant} / bare`, ratiosToBare[variant]!, rate(variant) / rate('bare'), '');
  // CPU time per request is far less sensitive than req/s to other processes sharing the cores.
  const cpuPer = (variant: Variant): number => totals[variant].cpuMicros / totals[variant].requests;
  console.log('\nserver CPU per request, as capacity relative to bare (bare µs / variant µs):');
  console.log(`  ours                 ${(cpuPer('bare') / cpuPer('ours')).toFixed(3)}  (target >= 0.93)`);
  console.log(`  ours vs OTel auto    ${(cpuPer('otel') / cpuPer('ours')).toFixed(3)}  (target >= 1.5)`);
  for (const variant of VARIANTS.filter((name) => name !== 'bare' && name !== 'ours')) console.log(`  ${variant.padEnd(20)} ${(cpuPer('bare') / cpuPer(variant)).toFixed(3)}`);
}

const variantIndex = process.argv.indexOf('--variant');
if (variantIndex !== -1) {
  void serve(process.argv[variantIndex + 1] as Variant, process.argv[process.argv.indexOf('--sink') + 1]!);
} else {
  await main();
}
