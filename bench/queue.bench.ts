/**
 * Queue benchmark: ours vs BullMQ vs bee-queue on the same Redis, in one run, side by side.
 * Measures single add (100 in flight), bulk add, processing at concurrency 50 and 1 (no-op
 * processor, removeOnComplete everywhere) and enqueue-to-start latency at a steady 1,000 jobs/s.
 * Prints a table with our ratio to each anchor. Absolute figures depend on the machine; ratios
 * measured in one run are what count.
 *
 * Besides rates it prints load-independent costs per job for every contender: Redis commands
 * per job (script-internal commands included, as `INFO commandstats` counts them), `EVALSHA`
 * round trips per job, Redis server CPU per job (`INFO cpu` user+sys) and bench-process CPU per
 * job (`process.cpuUsage()`, producer and worker together). On a busy machine rates are noise
 * but these costs stay put; point BENCH_REDIS at a Redis nobody else uses for clean server
 * figures.
 *
 * Run: `npm run bench -- queue` (builds first). Env: BENCH_JOBS (default 20000),
 * BENCH_REDIS (default redis://127.0.0.1:6379), BENCH_ONLY (run only the metrics whose label
 * contains it, e.g. `process`).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import BeeQueue from 'bee-queue';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import { MessageQueue } from '@ux-flow/common/queue';
import { deleteKeysByPrefix } from './redis-keys.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 20_000);
const REDIS_URL = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const url = new URL(REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379) };
const PREFIX = `bench:queue:${randomUUID().slice(0, 8)}`;
const LATENCY_RATE = 1_000;
const LATENCY_SECONDS = 5;

/** Costs of one measured section, per job. */
interface Cost {
  commands: number;
  evalsha: number;
  serverCpuUs: number;
  clientCpuUs: number;
}

interface Snapshot {
  calls: Map<string, number>;
  serverCpu: number;
  client: NodeJS.CpuUsage;
}

const statsClient = new Redis(REDIS_URL);

async function snapshot(): Promise<Snapshot> {
  const client = process.cpuUsage();
  const [commandstats, cpu] = await Promise.all([statsClient.info('commandstats'), statsClient.info('cpu')]);
  const calls = new Map<string, number>();
  for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { calls, serverCpu: field('used_cpu_user') + field('used_cpu_sys'), client };
}

/** Measures the costs of what runs between `begin()` and `end(jobs)`. */
class Probe {
  private before: Snapshot | undefined;
  cost: Cost | undefined;

  async begin(): Promise<void> {
    this.before = await snapshot();
  }

  async end(jobs: number): Promise<void> {
    const after = await snapshot();
    const before = this.before!;
    let commands = 0;
    for (const [name, calls] of after.calls) {
      // The probe's own INFO calls are not the contender's.
      if (name !== 'info') commands += calls - (before.calls.get(name) ?? 0);
    }
    const client = process.cpuUsage(before.client);
    this.cost = {
      commands: commands / jobs,
      evalsha: ((after.calls.get('evalsha') ?? 0) - (before.calls.get('evalsha') ?? 0)) / jobs,
      serverCpuUs: ((after.serverCpu - before.serverCpu) * 1e6) / jobs,
      clientCpuUs: (client.user + client.system) / jobs,
    };
  }
}

interface Contender {
  name: string;
  /** Adds one job (resolves when stored). */
  add(data: object): Promise<unknown>;
  addBulk(data: object[]): Promise<unknown>;
  /** Starts a worker; `onDone` per completed job, `onStart(data)` when the processor starts. */
  process(concurrency: number, onStart: (data: { t?: number }) => void, onDone: () => void): Promise<void>;
  stopWorker(): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

function ours(): Contender {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  let name = randomUUID();
  let producer = new MessageQueue({ redis, prefix: PREFIX, name, defaultJobOptions: { removeOnComplete: true } });
  let worker: MessageQueue | undefined;
  return {
    name: 'ux-flow',
    add: (data) => producer.add('bench', data),
    addBulk: (data) => producer.addBulk(data.map((item) => ({ type: 'bench', data: item }))),
    process: async (concurrency, onStart, onDone) => {
      worker = new MessageQueue({ redis, prefix: PREFIX, name });
      worker.on('completed', onDone);
      worker.registerProcessor('bench', (data: { t?: number }) => {
        onStart(data);
      }, { concurrency });
    },
    stopWorker: async () => {
      await worker?.close();
      worker = undefined;
    },
    reset: async () => {
      await producer.obliterate();
      await producer.close();
      name = randomUUID();
      producer = new MessageQueue({ redis, prefix: PREFIX, name, defaultJobOptions: { removeOnComplete: true } });
    },
    close: async () => {
      await producer.obliterate();
      await producer.close();
      await redis.quit();
    },
  };
}

function bullmq(): Contender {
  let name = `bull-${randomUUID().slice(0, 8)}`;
  const opts = { connection, prefix: PREFIX, defaultJobOptions: { removeOnComplete: true } };
  let queue = new BullQueue(name, opts);
  let worker: BullWorker | undefined;
  return {
    name: 'BullMQ',
    add: (data) => queue.add('bench', data),
    addBulk: (data) => queue.addBulk(data.map((item) => ({ name: 'bench', data: item }))),
    process: async (concurrency, onStart, onDone) => {
      worker = new BullWorker(
        name,
        async (job) => {
          onStart(job.data as { t?: number });
        },
        { connection, prefix: PREFIX, concurrency },
      );
      worker.on('completed', onDone);
      await worker.waitUntilReady();
    },
    stopWorker: async () => {
      await worker?.close();
      worker = undefined;
    },
    reset: async () => {
      await queue.obliterate({ force: true });
      await queue.close();
      name = `bull-${randomUUID().slice(0, 8)}`;
      queue = new BullQueue(name, opts);
    },
    close: async () => {
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

function beeQueue(): Contender {
  let name = `bee-${randomUUID().slice(0, 8)}`;
  const producerSettings = { redis: connection, prefix: PREFIX, isWorker: false, getEvents: false, storeJobs: false, removeOnSuccess: true };
  let producer = new BeeQueue(name, producerSettings);
  let worker: BeeQueue | undefined;
  return {
    name: 'bee-queue',
    add: (data) => producer.createJob(data).save(),
    addBulk: (data) => producer.saveAll(data.map((item) => producer.createJob(item))),
    process: async (concurrency, onStart, onDone) => {
      worker = new BeeQueue(name, { redis: connection, prefix: PREFIX, getEvents: false, removeOnSuccess: true });
      worker.on('succeeded', onDone);
      worker.process(concurrency, async (job: BeeQueue.Job<{ t?: number }>) => {
        onStart(job.data);
      });
      await worker.ready();
    },
    stopWorker: async () => {
      await worker?.close(5_000);
      worker = undefined;
    },
    reset: async () => {
      await producer.destroy();
      await producer.close();
      name = `bee-${randomUUID().slice(0, 8)}`;
      producer = new BeeQueue(name, producerSettings);
    },
    close: async () => {
      await producer.destroy();
      await producer.close();
    },
  };
}

async function singleAdd(c: Contender, probe: Probe): Promise<number> {
  let next = 0;
  await probe.begin();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < JOBS) {
        next++;
        await c.add({ n: next });
      }
    }),
  );
  const rate = JOBS / ((performance.now() - started) / 1000);
  await probe.end(JOBS);
  return rate;
}

async function bulkAdd(c: Contender, probe: Probe): Promise<number> {
  await probe.begin();
  const started = performance.now();
  for (let i = 0; i < JOBS; i += 1_000) await c.addBulk(Array.from({ length: Math.min(1_000, JOBS - i) }, (_, k) => ({ n: i + k })));
  const rate = JOBS / ((performance.now() - started) / 1000);
  await probe.end(JOBS);
  return rate;
}

async function processing(c: Contender, probe: Probe, concurrency: number, jobs: number): Promise<number> {
  for (let i = 0; i < jobs; i += 1_000) await c.addBulk(Array.from({ length: Math.min(1_000, jobs - i) }, (_, k) => ({ n: i + k })));
  await probe.begin();
  let done = 0;
  let started = 0;
  const finished = new Promise<void>((resolve) => {
    void c.process(
      concurrency,
      () => {
        if (started === 0) started = performance.now();
      },
      () => {
        if (++done === jobs) resolve();
      },
    );
  });
  const t0 = performance.now();
  await finished;
  const rate = jobs / ((performance.now() - t0) / 1000);
  await probe.end(jobs);
  await c.stopWorker();
  return rate;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function latency(c: Contender, probe: Probe): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  const total = LATENCY_RATE * LATENCY_SECONDS;
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    void c.process(
      50,
      (data) => {
        if (typeof data.t === 'number') samples.push(performance.now() - data.t);
      },
      () => {
        if (++done === total) resolve();
      },
    );
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  await probe.begin();
  const begin = performance.now();
  const adds: Promise<unknown>[] = [];
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - begin) / 1000) * LATENCY_RATE));
    while (sent < due) {
      adds.push(c.add({ t: performance.now() }));
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(adds);
  await finished;
  // Add and process at a steady rate: includes the idle workers' blocking waits and wake-ups.
  await probe.end(total);
  await c.stopWorker();
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

type Row = Record<string, number>;

/** Each metric runs for every contender back to back, so load drift on a shared machine hits all alike. */
const METRICS: [string, string, (c: Contender, probe: Probe) => Promise<number | { p50: number; p99: number }>][] = [
  ['single add /s (100 in flight)', 'single add', singleAdd],
  ['bulk add /s (1,000 per call)', 'bulk add', bulkAdd],
  ['process /s (concurrency 50)', 'process c=50', (c, probe) => processing(c, probe, 50, JOBS)],
  ['process /s (concurrency 1)', 'process c=1', (c, probe) => processing(c, probe, 1, Math.min(JOBS, 10_000))],
  ['latency @1k/s', 'add+process @1k/s', latency],
];

/** Per contender: the costs of each metric's section, by short label. */
const costs: Map<string, Cost>[] = [];

async function measureAll(contenders: Contender[]): Promise<Row[]> {
  const rows: Row[] = contenders.map(() => ({}));
  for (const [index] of contenders.entries()) costs[index] = new Map();
  const only = process.env['BENCH_ONLY'];
  for (const [label, short, run] of METRICS) {
    if (only !== undefined && !label.includes(only)) continue;
    for (const [index, c] of contenders.entries()) {
      const probe = new Probe();
      const value = await run(c, probe);
      await c.reset();
      if (probe.cost !== undefined) costs[index]!.set(short, probe.cost);
      const row = rows[index]!;
      if (typeof value === 'number') {
        row[label] = value;
        process.stdout.write(`  ${c.name.padEnd(10)} ${label.padEnd(30)} ${value.toFixed(0)}\n`);
      } else {
        row['latency p50 ms @1k/s'] = value.p50;
        row['latency p99 ms @1k/s'] = value.p99;
        process.stdout.write(`  ${c.name.padEnd(10)} ${'enqueue-to-start p50 / p99 ms'.padEnd(30)} ${value.p50.toFixed(2)} / ${value.p99.toFixed(2)}\n`);
      }
    }
  }
  return rows;
}

function printCosts(contenders: Contender[]): void {
  console.log('\nCosts per job (load-independent; Redis figures include anything else running on that server):');
  console.log('\n| section | cost | ' + contenders.map((c) => c.name).join(' | ') + ' | ux-flow / BullMQ | ux-flow / bee-queue |');
  console.log('|---|---|' + contenders.map(() => '---:|').join('') + '---:|---:|');
  const fields: [keyof Cost, string, number][] = [
    ['commands', 'Redis commands (incl. in scripts)', 2],
    ['evalsha', 'EVALSHA calls', 3],
    ['serverCpuUs', 'Redis CPU µs', 1],
    ['clientCpuUs', 'bench process CPU µs', 1],
  ];
  for (const [, short] of METRICS) {
    if (!costs.some((byMetric) => byMetric.has(short))) continue;
    for (const [field, name, digits] of fields) {
      const values = costs.map((byMetric) => byMetric.get(short)?.[field] ?? Number.NaN);
      const ratio = (other: number | undefined): string => (other !== undefined && other > 0 ? ((values[0] ?? 0) / other).toFixed(2) : '–');
      console.log(`| ${short} | ${name} | ${values.map((v) => v.toFixed(digits)).join(' | ')} | ${ratio(values[1])} | ${ratio(values[2])} |`);
    }
  }
}

async function main(): Promise<void> {
  const info = await new Redis(REDIS_URL).info('server').then((text) => /redis_version:(\S+)/.exec(text)?.[1] ?? '?');
  console.log(`queue bench: ${JOBS} jobs, Redis ${info} at ${REDIS_URL}, Node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}`);
  const contenders = [ours(), bullmq(), beeQueue()];
  const rows = await measureAll(contenders);
  for (const c of contenders) await c.close();
  const [us, bull, bee] = rows as [Row, Row, Row];
  console.log('\n| metric | ux-flow | BullMQ | bee-queue | ux-flow / BullMQ | ux-flow / bee-queue |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const label of Object.keys(us)) {
    const lowerIsBetter = label.includes(' ms');
    const ratio = (a: number, b: number): string => (lowerIsBetter ? `${(b / a).toFixed(2)}× faster` : `${(a / b).toFixed(2)}×`);
    const fmt = (value: number): string => (lowerIsBetter ? value.toFixed(2) : Math.round(value).toString());
    console.log(`| ${label} | ${fmt(us[label]!)} | ${fmt(bull[label]!)} | ${fmt(bee[label]!)} | ${ratio(us[label]!, bull[label]!)} | ${ratio(us[label]!, bee[label]!)} |`);
  }
  printCosts(contenders);
  await statsClient.quit();
  const cleanup = new Redis(REDIS_URL);
  await deleteKeysByPrefix(cleanup, PREFIX);
  await cleanup.quit();
  process.exit(0);
}

await main();
