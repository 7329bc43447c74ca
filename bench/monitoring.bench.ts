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
 * of 64 so they die young in the heap); ours-nosys (10%, no system or default Node metrics); and
 * floor-loaded (floor's middleware, with our monitor loaded and running but not mounted: what
 * carrying the monitor's code and heap costs a request it does not touch).
 * Each variant runs in its own child process (auto-instrumentation patches modules globally);
 * this process runs autocannon (loopback, 50 connections) and a span sink both exporters send to.
 * Each round (BENCH_ROUNDS, 8) starts a fresh server per variant, in rotating order, warms it up
 * (BENCH_WARMUP_S, 4 s), measures it under continuous load (BENCH_MEASURE_S, 6 s) and stops it;
 * ratios are computed per round and their median reported, with the interquartile range.
 * A server is never left idle between its warm-up and its measurement: after ~8 s without load,
 * V8's memory reducer runs and the next seconds pay for re-optimising the request path (an
 * earlier version of this bench, which kept all servers up and moved the load between them,
 * mixed that re-warming into its throughput figures). BENCH_IDLE_S=10 measures it on its own:
 * each server then idles that long and serves one more 2 s burst, reported apart.
 * Servers are pinned to CPU 1 and this process to CPU 0 where `taskset` exists (BENCH_PIN=0 to
 * turn off); BENCH_NODE runs the servers on another Node.js binary.
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

const ALL_VARIANTS = ['bare', 'ours', 'otel', 'ours-notrace', 'als-floor', 'floor', 'ours-rate0', 'ours-rate1', 'ours-rate50', 'ours-noexport', 'ours-young', 'ours-nosys', 'floor-loaded'] as const;
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
// A fresh server per variant per round: one process can run several percent off the next one of
// the same code (code and heap layout).
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 8);
const WARMUP_S = Number(process.env['BENCH_WARMUP_S'] ?? 4);
const MEASURE_S = Number(process.env['BENCH_MEASURE_S'] ?? 6);
// With BENCH_IDLE_S > 0, each server then idles that long and serves one more 2 s burst, measured
// apart: what the first seconds after a quiet spell cost (V8's memory reducer runs once a process
// has been idle ~8 s, and the code it serves with must be re-optimised afterwards).
const IDLE_S = Number(process.env['BENCH_IDLE_S'] ?? 0);
const BURST_S = 2;
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
  let floor: ((app: Express) => void) | undefined;
  if (variant === 'floor' || variant === 'floor-loaded') {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const storage = new AsyncLocalStorage<{ id: string }>();
    const bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    const counts = new Float64Array(bounds.length + 1);
    let id = 0;
    prepare = floor = (app) => {
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
  if (variant.startsWith('ours') || variant === 'floor-loaded') {
    const { initializePerformanceMonitor } = await importBuilt();
    // The same Zipkin exporter as the OTel variant, passed in (the built package loads it lazily
    // itself once it is an external optional peer).
    const { ZipkinExporter } = await import('@opentelemetry/exporter-zipkin');
    const monitor = initializePerformanceMonitor('bench-ours', {
      enableTracing: variant !== 'ours-notrace',
      enableSystemMetrics: variant !== 'ours-nosys',
      defaultMetrics: variant !== 'ours-nosys',
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
      if (floor === undefined) app.use(monitor.middleware());
      else floor(app);
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
  let cpuMark = process.cpuUsage();
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
    } else if (message === 'cpu-read') {
      const used = process.cpuUsage(cpuMark);
      const threads = threadTicks();
      process.send?.({
        cpuMicros: used.user + used.system,
        mainMicros: ((threads.main - threadMark.main) * 1e6) / ticksPerSecond,
        helperMicros: ((threads.helpers - threadMark.helpers) * 1e6) / ticksPerSecond,
        gcCount: gc.count,
        gcMs: gc.ms,
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

/**
 * The Node.js binary the servers run on: BENCH_NODE, else this one. Lets one run compare Node
 * majors (e.g. Node 24, whose AsyncLocalStorage no longer rides on async_hooks) with the same
 * load generator.
 */
const SERVER_NODE = process.env['BENCH_NODE'] ?? process.execPath;

async function start(variant: Variant, sinkUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const nodeArgs = ['--import', 'tsx', ...(process.env['BENCH_CHILD_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '')];
  const child = fork(fileURLToPath(import.meta.url), ['--variant', variant, '--sink', sinkUrl], {
    ...(PIN ? { execPath: 'taskset', execArgv: ['-c', '1', SERVER_NODE, ...nodeArgs] } : { execPath: SERVER_NODE, execArgv: nodeArgs }),
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

interface Measurement {
  requests: number;
  seconds: number;
  cpuMicros: number;
  mainMicros: number;
  helperMicros: number;
  gcCount: number;
  gcMs: number;
  errors: number;
}

/** Loads `url` for `seconds` and reads the server's CPU over exactly that time. */
async function measure(child: ChildProcess, url: string, seconds: number): Promise<Measurement & { rps: number }> {
  child.send('cpu-mark');
  const started = performance.now();
  const result = await load(url, seconds);
  const elapsed = (performance.now() - started) / 1000;
  const reading = await cpuRead(child);
  return {
    rps: result.rps,
    requests: result.total,
    seconds: elapsed,
    cpuMicros: reading.cpuMicros,
    mainMicros: reading.mainMicros,
    helperMicros: reading.helperMicros,
    gcCount: reading.gcCount,
    gcMs: reading.gcMs,
    errors: result.errors,
  };
}

function add(total: Measurement, m: Measurement): void {
  total.requests += m.requests;
  total.seconds += m.seconds;
  total.cpuMicros += m.cpuMicros;
  total.mainMicros += m.mainMicros;
  total.helperMicros += m.helperMicros;
  total.gcCount += m.gcCount;
  total.gcMs += m.gcMs;
  total.errors += m.errors;
}

const emptyMeasurement = (): Measurement => ({ requests: 0, seconds: 0, cpuMicros: 0, mainMicros: 0, helperMicros: 0, gcCount: 0, gcMs: 0, errors: 0 });

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
  console.log(`Express 5, autocannon ${CONNECTIONS} connections; ${ROUNDS} rounds, each starting a fresh server per variant (rotating order),`);
  console.log(`warming it up for ${WARMUP_S}s and measuring it for ${MEASURE_S}s under continuous load${IDLE_S > 0 ? `, then a ${BURST_S}s burst after ${IDLE_S}s idle` : ''}`);
  console.log(`paths: ${PATHS.join(', ')} (the last one is a 404)`);
  console.log(`servers on Node ${execFileSync(SERVER_NODE, ['--version'], { encoding: 'utf8' }).trim()} (BENCH_NODE), load generator on Node ${process.version}\n`);

  const totals = Object.fromEntries(VARIANTS.map((name) => [name, emptyMeasurement()])) as Record<Variant, Measurement>;
  const afterIdle = Object.fromEntries(VARIANTS.map((name) => [name, emptyMeasurement()])) as Record<Variant, Measurement>;
  const cpuPerRound = Object.fromEntries(VARIANTS.map((name) => [name, [] as number[]])) as Record<Variant, number[]>;
  const rpsPerRound = Object.fromEntries(VARIANTS.map((name) => [name, [] as number[]])) as Record<Variant, number[]>;
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!)) {
      const { child, url } = await start(variant, sinkUrl);
      await load(url, WARMUP_S);
      const steady = await measure(child, url, MEASURE_S);
      add(totals[variant], steady);
      rpsPerRound[variant].push(steady.rps);
      cpuPerRound[variant].push(steady.cpuMicros / steady.requests);
      if (IDLE_S > 0) {
        await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000));
        add(afterIdle[variant], await measure(child, url, BURST_S));
      }
      await stop(child); // flushes the exporter
    }
    if (VERBOSE) console.log(`round ${String(round + 1).padStart(2)}  ${VARIANTS.map((variant) => `${variant} ${rpsPerRound[variant][round]!.toFixed(0)} req/s ${cpuPerRound[variant][round]!.toFixed(1)} µs`).join('  ')}`);
  }
  // The last export's bytes may still be in this process's socket buffers when a child's exit is seen.
  await new Promise((resolve) => setTimeout(resolve, 300));
  sink.close();

  console.log('per variant, over all rounds (server CPU from the server process; main thread and other threads from /proc):');
  for (const variant of VARIANTS) {
    const t = totals[variant];
    console.log(
      `  ${variant.padEnd(13)} ${(t.requests / t.seconds).toFixed(0).padStart(6)} req/s  median round ${median(rpsPerRound[variant]).toFixed(0).padStart(6)}  server CPU ${(t.cpuMicros / t.requests).toFixed(1).padStart(6)} µs/req (main ${(t.mainMicros / t.requests).toFixed(1)}, other threads ${(t.helperMicros / t.requests).toFixed(1)})  GC ${t.gcCount} (${((t.gcMs * 1000) / t.requests).toFixed(1)} µs/req)  errors ${t.errors}`,
    );
  }
  console.log(`  span bytes exported in all: ${exportedBytes}`);
  console.log('\nserver CPU µs per request in each round (a fresh process each):');
  for (const variant of VARIANTS) console.log(`  ${variant.padEnd(13)} ${cpuPerRound[variant].map((micros) => micros.toFixed(1).padStart(6)).join(' ')}`);
  const q = (values: number[], at: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(at * values.length))]!;
  const ratios = (of: (round: number) => number): number[] => Array.from({ length: ROUNDS }, (_, round) => of(round));
  const line = (label: string, values: number[], whole: number, target: string): void => {
    console.log(`  ${label.padEnd(20)} ${median(values).toFixed(3)} [${q(values, 0.25).toFixed(3)}–${q(values, 0.75).toFixed(3)}]  total ${whole.toFixed(3)}  ${target}`);
  };
  const rate = (variant: Variant): number => totals[variant].requests / totals[variant].seconds;
  const cpuPer = (variant: Variant): number => totals[variant].cpuMicros / totals[variant].requests;
  const target = (variant: Variant): string => (variant === 'ours' ? '(target >= 0.93)' : '');
  console.log('\nreq/s vs bare: median of the per-round ratios [interquartile range], and total requests / total requests:');
  for (const variant of VARIANTS.filter((name) => name !== 'bare')) {
    line(`${variant} / bare`, ratios((r) => rpsPerRound[variant][r]! / rpsPerRound.bare[r]!), rate(variant) / rate('bare'), target(variant));
  }
  line('ours / OTel auto', ratios((r) => rpsPerRound.ours[r]! / rpsPerRound.otel[r]!), rate('ours') / rate('otel'), '(target >= 1.5)');
  // CPU time per request is far less sensitive than req/s to what else runs on the machine.
  console.log('\nserver CPU per request, as capacity relative to bare (bare µs / variant µs): median of the per-round ratios [IQR], and over all rounds:');
  for (const variant of VARIANTS.filter((name) => name !== 'bare')) {
    line(variant, ratios((r) => cpuPerRound.bare[r]! / cpuPerRound[variant][r]!), cpuPer('bare') / cpuPer(variant), target(variant));
  }
  line('ours vs OTel auto', ratios((r) => cpuPerRound.otel[r]! / cpuPerRound.ours[r]!), cpuPer('otel') / cpuPer('ours'), '(target >= 1.5)');
  if (IDLE_S > 0) {
    console.log(`\nthe first ${BURST_S}s after ${IDLE_S}s idle: server CPU µs/req (main thread, other threads), and vs the same variant under continuous load:`);
    for (const variant of VARIANTS) {
      const t = afterIdle[variant];
      console.log(
        `  ${variant.padEnd(13)} ${(t.cpuMicros / t.requests).toFixed(1).padStart(6)} (${(t.mainMicros / t.requests).toFixed(1)}, ${(t.helperMicros / t.requests).toFixed(1)})  ${(t.cpuMicros / t.requests / cpuPer(variant)).toFixed(2)}x`,
      );
    }
  }
}

const variantIndex = process.argv.indexOf('--variant');
if (variantIndex !== -1) {
  void serve(process.argv[variantIndex + 1] as Variant, process.argv[process.argv.indexOf('--sink') + 1]!);
} else {
  await main();
}
