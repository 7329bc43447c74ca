/**
 * Email throughput to a local SMTP server: raw pooled nodemailer (what users would write) against
 * our EnhancedEmailService (MJML template render, click/open tracking with signed links,
 * suppression check, per-sender and per-domain Redis rate limits, analytics), in one run.
 * Run: `npm run bench -- email`.
 *
 * The SMTP server (smtp-server) runs in a worker thread so its CPU is not charged to either
 * client. Both sides use a 5-connection pool, 50 messages in flight, and an HTML body of ~5 KB
 * plus a text part. Rounds alternate raw / ours (order swapped every round); the table reports
 * the median msg/s and the main thread's busy time per message (event-loop utilisation), which
 * is less sensitive than wall time to other processes on a shared machine, and on Linux the main
 * thread's CPU time per message (from /proc, not counting time the thread waited for a core),
 * which is less sensitive still.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { createTransport } from 'nodemailer';
import { EnhancedEmailService, SmtpProvider, TemplateRegistry } from '@ux-flow/common/communication';
import { deleteKeysByPrefix } from './redis-keys.js';

const N = Number(process.env['BENCH_N'] ?? 1000);
const IN_FLIGHT = 50;
const POOL = 5;
const ROUNDS = 5;
const prefix = `bench:email:${randomBytes(4).toString('hex')}`;

const SERVER = `
const { SMTPServer } = require('smtp-server');
const { parentPort } = require('node:worker_threads');
let count = 0;
const server = new SMTPServer({
  disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true, logger: false, size: 10 * 1024 * 1024,
  onData(stream, session, callback) { stream.on('data', () => {}); stream.on('end', () => { count++; callback(null, 'OK: queued as Q' + count); }); },
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.server.address().port }));
parentPort.on('message', (m) => { if (m === 'count') parentPort.postMessage({ count }); if (m === 'stop') server.close(() => process.exit(0)); });
`;

const paragraph = '<p style="margin:0 0 12px">{{name}}, here is a paragraph of product news with <a href="{{link}}">a link</a> and enough words to make a realistic email body for measurement.</p>';
const template = {
  subject: 'News for {{name}}',
  mjml: `<mj-section><mj-column><mj-text>${paragraph.repeat(5)}</mj-text><mj-button href="{{cta}}">Open</mj-button></mj-column></mj-section>`,
};

interface Sample {
  rate: number;
  busyUsPerMessage: number;
  /** Main-thread CPU µs per message; NaN where /proc is not there. */
  cpuUsPerMessage: number;
}

/** CPU time of the main thread in µs (Linux: first field of its schedstat, in ns), or NaN. */
function mainThreadCpuUs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return Number.NaN;
  }
}

async function drive(send: (i: number) => Promise<unknown>): Promise<Sample> {
  let next = 0;
  const elu = performance.eventLoopUtilization();
  const cpu = mainThreadCpuUs();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < N) await send(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  const busy = performance.eventLoopUtilization(elu);
  return { rate: N / seconds, busyUsPerMessage: (busy.active * 1000) / N, cpuUsPerMessage: (mainThreadCpuUs() - cpu) / N };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const server = new Worker(SERVER, { eval: true });
  const { port } = await new Promise<{ port: number }>((resolve) => server.once('message', resolve));
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');

  // The raw side sends the same rendered HTML/text our template produces (no tracking).
  const registry = new TemplateRegistry({ builtins: false });
  registry.register('news', template);
  const data = { name: 'Ada', link: 'https://app.example.com/news', cta: 'https://app.example.com/open', productName: 'Flow' };
  const rendered = await registry.render('news', data);
  console.log(`HTML body ${rendered.html.length} bytes, text ${rendered.text.length} bytes; N=${N}, ${IN_FLIGHT} in flight, pool ${POOL}`);

  const raw = createTransport({ pool: true, host: '127.0.0.1', port, ignoreTLS: true, maxConnections: POOL, maxMessages: 100 });
  const ours = new EnhancedEmailService({
    providers: [new SmtpProvider({ host: '127.0.0.1', port, ignoreTLS: true, maxConnections: POOL })],
    defaultFrom: 'Flow <news@example.com>',
    redis,
    prefix,
    templates: { news: template },
    templateDefaults: { productName: 'Flow' },
    tracking: { baseUrl: 'https://t.example.com/email', secret: randomBytes(32).toString('hex') },
    rateLimits: { perSender: [{ limit: 1_000_000, windowMs: 3_600_000 }], perRecipientDomain: [{ limit: 1_000_000, windowMs: 3_600_000 }, { limit: 10_000_000, windowMs: 86_400_000 }] },
  });
  const domains = ['example.org', 'example.net', 'example.edu', 'example.io'];
  const rawSend = (i: number) =>
    raw.sendMail({ from: 'Flow <news@example.com>', to: `user${i}@${domains[i % 4]}`, subject: rendered.subject, html: rendered.html, text: rendered.text });
  const oursSend = (i: number) => ours.send({ to: `user${i}@${domains[i % 4]}`, template: 'news', data });

  await drive(rawSend); // warm-up: connections, JIT, template compile
  await drive(oursSend);
  const rawSamples: Sample[] = [];
  const ourSamples: Sample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      rawSamples.push(await drive(rawSend));
      ourSamples.push(await drive(oursSend));
    } else {
      ourSamples.push(await drive(oursSend));
      rawSamples.push(await drive(rawSend));
    }
    const [lastRaw, lastOurs] = [rawSamples.at(-1)!, ourSamples.at(-1)!];
    console.log(
      `round ${round + 1}: raw nodemailer ${lastRaw.rate.toFixed(0)} msg/s (${lastRaw.busyUsPerMessage.toFixed(0)} µs busy, ${lastRaw.cpuUsPerMessage.toFixed(0)} µs CPU), ` +
        `ours ${lastOurs.rate.toFixed(0)} msg/s (${lastOurs.busyUsPerMessage.toFixed(0)} µs busy, ${lastOurs.cpuUsPerMessage.toFixed(0)} µs CPU)`,
    );
  }
  const rawRate = median(rawSamples.map((s) => s.rate));
  const ourRate = median(ourSamples.map((s) => s.rate));
  const rawBusy = median(rawSamples.map((s) => s.busyUsPerMessage));
  const ourBusy = median(ourSamples.map((s) => s.busyUsPerMessage));
  const rawCpu = median(rawSamples.map((s) => s.cpuUsPerMessage));
  const ourCpu = median(ourSamples.map((s) => s.cpuUsPerMessage));
  console.table([
    { case: 'raw pooled nodemailer', 'msg/s': Math.round(rawRate), 'main-thread µs/msg': Math.round(rawBusy), 'main-thread CPU µs/msg': Math.round(rawCpu) },
    { case: 'EnhancedEmailService (template+tracking+limits)', 'msg/s': Math.round(ourRate), 'main-thread µs/msg': Math.round(ourBusy), 'main-thread CPU µs/msg': Math.round(ourCpu) },
  ]);
  console.log(
    `ours / raw throughput = ${(ourRate / rawRate).toFixed(2)}x (target >= 0.90x); ours / raw main-thread cost = ${(ourBusy / rawBusy).toFixed(2)}x` +
      (Number.isNaN(ourCpu / rawCpu) ? '' : `, CPU ${(ourCpu / rawCpu).toFixed(2)}x`),
  );

  raw.close();
  await ours.close();
  await deleteKeysByPrefix(redis, prefix);
  await redis.quit();
  server.postMessage('stop');
}

await main();
