import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnhancedEmailService, SmtpProvider, TrackingSigner } from '../../../src/communication/index.js';
import { RedisBatcher } from '../../../src/communication/redis-batcher.js';
import { RedisEmailStore } from '../../../src/communication/redis-email-store.js';
import { defineScript } from '../../../src/core/define-script.js';
import { RateLimitError } from '../../../src/core/index.js';
import { startSmtpPeer, type SmtpPeer } from '../../helpers/communication-peers.js';
import { connectShared, deleteKeys, testPrefix } from '../../helpers/redis.js';
import { freePort } from '../../helpers/redis-servers.js';

const PREFIX = testPrefix('communication-batching');
const SECRET = 'a-test-tracking-secret-of-32-bytes-or-more!';
const admin = connectShared();
const clients: Redis[] = [];
let peer: SmtpPeer;

/** A fresh client, and how many writes it has made to its socket. */
function countedClient(): { client: Redis; writes: () => number } {
  const client = connectShared();
  clients.push(client);
  let writes = 0;
  const counting = (socket: Socket): void => {
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = (...args: unknown[]) => {
      writes++;
      return write(...args);
    };
  };
  client.on('connect', () => counting(client.stream));
  return { client, writes: () => writes };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

beforeAll(async () => {
  peer = await startSmtpPeer();
});

afterAll(async () => {
  await peer.close();
  await deleteKeys(admin, PREFIX);
  await Promise.all(clients.map((client) => client.quit()));
  await admin.quit();
});

describe('RedisBatcher', () => {
  it('sends the commands of concurrent callers in one write, each caller getting its own reply', async () => {
    const { client, writes } = countedClient();
    await client.ping();
    const key = `${PREFIX}:hash`;
    await client.hset(key, 'a', '1', 'b', '2');
    const batched = (RedisBatcher.for(client) as RedisBatcher).client;
    const before = writes();
    const replies = await Promise.all([batched.hmget(key, 'a'), batched.hmget(key, 'b', 'a'), batched.hmget(key, 'missing'), batched.get(`${PREFIX}:none`)]);
    expect(replies).toEqual([['1'], ['2', '1'], [null], null]);
    expect(writes() - before).toBe(1);
  });

  it('keeps the order of queued commands and rejects only the caller whose command failed', async () => {
    const { client } = countedClient();
    const batched = (RedisBatcher.for(client) as RedisBatcher).client;
    const key = `${PREFIX}:order`;
    const [set, got, wrong, deleted, after] = await Promise.allSettled([
      batched.set(key, 'v1'),
      batched.get(key),
      batched.hmget(key, 'field'), // WRONGTYPE: the key holds a string
      batched.del(key),
      batched.get(key),
    ]);
    expect(set).toEqual({ status: 'fulfilled', value: 'OK' });
    expect(got).toEqual({ status: 'fulfilled', value: 'v1' });
    expect(wrong.status).toBe('rejected');
    expect(String((wrong as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect(deleted).toEqual({ status: 'fulfilled', value: 1 });
    expect(after).toEqual({ status: 'fulfilled', value: null });
  });

  it('gathers what is queued while a round trip is out into the next one', async () => {
    const { client, writes } = countedClient();
    await client.ping();
    const batched = (RedisBatcher.for(client) as RedisBatcher).client;
    const key = `${PREFIX}:gather`;
    const before = writes();
    const first = batched.set(key, '0');
    await nextTurn(); // the first command is out, its reply not read yet
    const later = [batched.get(key), batched.set(key, '1'), batched.get(key)];
    expect(await first).toBe('OK');
    expect(await Promise.all(later)).toEqual(['0', 'OK', '1']);
    expect(writes() - before).toBe(2);
  });

  it('falls back from EVALSHA to EVAL through the batch on NOSCRIPT, as a plain script call does', async () => {
    const { client } = countedClient();
    const batched = (RedisBatcher.for(client) as RedisBatcher).client;
    // A script Redis has never seen: its first EVALSHA answers NOSCRIPT.
    const script = defineScript('batch-test', `-- ${randomBytes(8).toString('hex')}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`, { numberOfKeys: 1 });
    const key = `${PREFIX}:script`;
    const results = await Promise.all([script.run(batched, [key], [2]), script.run(batched, [key], [3]), batched.get(key)]);
    expect(results.slice(0, 2).map(Number).sort()).toEqual([2, 5]);
    expect(await client.get(key)).toBe('5');
  });

  it('rejects every caller of a batch that could not be sent', async () => {
    const port = await freePort();
    const client = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => undefined);
    const batched = (RedisBatcher.for(client) as RedisBatcher).client;
    const outcomes = await Promise.allSettled([batched.get('a'), batched.hmget('b', 'x'), batched.set('c', '1')]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    client.disconnect();
  });

  it('leaves other commands, callback style and Cluster clients alone', async () => {
    const { client } = countedClient();
    const batcher = RedisBatcher.for(client) as RedisBatcher;
    expect(RedisBatcher.for(client)).toBe(batcher);
    expect(batcher.client.status).toBe(client.status);
    expect(await batcher.client.ping()).toBe('PONG');
    const viaCallback = await new Promise<unknown>((resolve, reject) => {
      void batcher.client.get(`${PREFIX}:none`, (error, value) => (error ? reject(error) : resolve(value)));
    });
    expect(viaCallback).toBeNull();
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(RedisBatcher.for(cluster)).toBeUndefined();
    cluster.disconnect();
  });
});

describe('RedisEmailStore sent records', () => {
  it('writes concurrent records with exact counters, message metadata and TTLs', async () => {
    const prefix = `${PREFIX}:store`;
    const store = new RedisEmailStore({ redis: admin, prefix, messageTtlMs: 60_000 });
    const today = Date.UTC(2026, 0, 15, 12);
    const yesterday = today - 86_400_000;
    const records = Array.from({ length: 120 }, (_, index) => ({
      messageId: `m${index}`,
      template: index % 3 === 0 ? 'welcome' : 'digest',
      tags: index % 2 === 0 ? ['news'] : [],
      at: index < 100 ? today : yesterday,
    }));
    await Promise.all(records.map((record) => store.recordSent(record)));
    const stats = await store.getStats(yesterday, today);
    expect(stats.total.sent).toBe(120);
    expect(stats.byDay['2026-01-15']?.sent).toBe(100);
    expect(stats.byDay['2026-01-14']?.sent).toBe(20);
    expect(stats.byTemplate['welcome']?.sent).toBe(40);
    expect(stats.byTemplate['digest']?.sent).toBe(80);
    expect(stats.byTag['news']?.sent).toBe(60);
    expect(await store.getMessage('m3')).toEqual({ template: 'welcome', tags: [], status: 'sent' });
    expect(await store.getMessage('m4')).toEqual({ template: 'digest', tags: ['news'], status: 'sent' });
    const ttl = await admin.pttl(`${prefix}:{email}:msg:m4`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await admin.ttl(`${prefix}:{email}:stats:2026-01-15`)).toBeGreaterThan(399 * 86_400);
  });
});

describe('EnhancedEmailService with batched state commands', () => {
  it('keeps caps, suppression and per-message tracking exact under concurrent sends', async () => {
    const { client, writes } = countedClient();
    const email = new EnhancedEmailService({
      providers: [new SmtpProvider({ host: '127.0.0.1', port: peer.port, ignoreTLS: true, maxConnections: 3 })],
      defaultFrom: 'Flow <news@flow.example>',
      redis: client,
      prefix: `${PREFIX}:svc`,
      builtinTemplates: false,
      templates: { note: { subject: 'For {{name}}', html: '<html><body><p>Hi {{name}}</p><a href="{{link}}">open</a></body></html>' } },
      tracking: { baseUrl: 'https://t.flow.example/email', secret: SECRET },
      rateLimits: { perSender: [{ limit: 100, windowMs: 60_000 }], perRecipientDomain: [{ limit: 4, windowMs: 60_000 }] },
    });
    try {
      await email.suppress('blocked@open.example');
      await client.ping();
      const before = peer.received.length;
      const commandsBefore = writes();
      const capped = Array.from({ length: 7 }, (_, index) => `user${index}@capped.example`);
      // Three plus the suppressed address: four charges, the cap (a suppressed recipient may be charged).
      const open = Array.from({ length: 3 }, (_, index) => `user${index}@open.example`);
      const recipients = [...capped, ...open, 'blocked@open.example'];
      const outcomes = await Promise.allSettled(
        recipients.map((to) => email.send({ to, template: 'note', data: { name: to, link: `https://app.flow.example/${to}` } })),
      );
      const byRecipient = new Map(recipients.map((to, index) => [to, outcomes[index] as PromiseSettledResult<{ status: string; messageId: string }>]));
      const cappedSent = capped.filter((to) => byRecipient.get(to)?.status === 'fulfilled');
      const cappedRefused = capped.filter((to) => {
        const outcome = byRecipient.get(to);
        return outcome?.status === 'rejected' && RateLimitError.isInstance(outcome.reason);
      });
      expect(cappedSent).toHaveLength(4);
      expect(cappedRefused).toHaveLength(3);
      for (const to of open) expect(byRecipient.get(to)).toMatchObject({ status: 'fulfilled', value: { status: 'sent' } });
      expect(byRecipient.get('blocked@open.example')).toMatchObject({ status: 'fulfilled', value: { status: 'suppressed' } });
      // 11 sends, each with a suppression lookup and two cap checks, went out in far fewer writes.
      expect(writes() - commandsBefore).toBeLessThan(11);

      await peer.waitFor(before + 7);
      const signer = new TrackingSigner([SECRET]);
      const arrived = peer.received.slice(before);
      expect(arrived).toHaveLength(7);
      for (const { envelope, parsed } of arrived) {
        const to = envelope.to[0] as string;
        const sent = byRecipient.get(to) as PromiseFulfilledResult<{ messageId: string }>;
        const html = String(parsed.html);
        // Each message carries its own data and tokens signed for its own id and link.
        expect(parsed.subject).toBe(`For ${to}`);
        expect(html).toContain(`Hi ${to}`);
        for (const other of recipients) if (other !== to) expect(html).not.toContain(`Hi ${other}<`);
        const click = /\/t\/c\/([A-Za-z0-9_.-]+)"/.exec(html)?.[1] as string;
        expect(signer.verify('c', click)).toEqual([sent.value.messageId, 0, `https://app.flow.example/${to}`]);
        const open = /\/t\/o\/([A-Za-z0-9_.-]+)\.gif/.exec(html)?.[1] as string;
        expect(signer.verify('o', open)).toEqual([sent.value.messageId]);
      }
      const stats = await email.getStats();
      expect(stats.total.sent).toBe(7);
      expect(stats.byTemplate['note']?.sent).toBe(7);
    } finally {
      await email.close();
    }
  });
});
