/**
 * Auth benchmark, side by side in one run:
 *  1. verifications/s for HS256, RS256, ES256, EdDSA: raw `jose.jwtVerify` (pre-imported key),
 *     express-oauth2-jwt-bearer, express-jwt, and ours without and with the verified-token cache
 *     (32 verifications in flight, interleaved rounds, median reported, ratios against raw jose);
 *  2. HTTP req/s of a small Express app with each middleware (autocannon, 50 connections, 5 s
 *     each, server in a child process so the load generator does not share its event loop).
 *
 * Our code comes from the built package, as users get it: `npm run bench -- auth`.
 */
import { fork } from 'node:child_process';
import { createPublicKey, createSecretKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { UnifiedAuthMiddleware } from '@ux-flow/common/auth';
import autocannon from 'autocannon';
import express, { type RequestHandler } from 'express';
import { expressjwt } from 'express-jwt';
import { auth as oauth2Bearer } from 'express-oauth2-jwt-bearer';
import { importSPKI, jwtVerify, SignJWT } from 'jose';

type Alg = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';
const ALGS: Alg[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];
const ISSUER = 'https://id.bench/';
const AUDIENCE = 'bench-api';
const SECRET = randomBytes(32).toString('hex'); // a string: express-oauth2-jwt-bearer takes only strings
const CONCURRENCY = 32;
const ROUND_MS = Number(process.env['AUTH_BENCH_ROUND_MS'] ?? 120);
const ROUNDS = Number(process.env['AUTH_BENCH_ROUNDS'] ?? 21);
const HTTP_SECONDS = Number(process.env['AUTH_BENCH_HTTP_SECONDS'] ?? 5);

interface Material {
  alg: Alg;
  publicPem: string;
  token: string;
}

function keysFor(alg: Alg): { privateKey: KeyObject | Uint8Array; publicPem: string } {
  if (alg === 'HS256') return { privateKey: new TextEncoder().encode(SECRET), publicPem: '' };
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey, publicPem: createPublicKey(pair.privateKey).export({ type: 'spki', format: 'pem' }).toString() };
}

async function material(alg: Alg): Promise<Material> {
  const { privateKey, publicPem } = keysFor(alg);
  const token = await new SignJWT({ roles: ['user'], scope: 'flows:read' })
    .setProtectedHeader({ alg, typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  return { alg, publicPem, token };
}

function ours(m: Material, cache: boolean): UnifiedAuthMiddleware {
  return new UnifiedAuthMiddleware({
    userTokens:
      m.alg === 'HS256'
        ? { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], secret: SECRET }
        : { issuer: ISSUER, audience: AUDIENCE, algorithms: [m.alg], publicKey: m.publicPem },
    cache: cache ? {} : false,
    bruteForce: false,
  });
}

function oauth2(m: Material): RequestHandler {
  return m.alg === 'HS256'
    ? oauth2Bearer({ issuer: ISSUER, audience: AUDIENCE, secret: SECRET, tokenSigningAlg: 'HS256' })
    : oauth2Bearer({ issuer: ISSUER, audience: AUDIENCE, publicKey: m.publicPem, tokenSigningAlg: m.alg });
}

function expressJwt(m: Material): RequestHandler | undefined {
  if (m.alg === 'EdDSA') return undefined; // jsonwebtoken 9 has no EdDSA
  return expressjwt({ secret: m.alg === 'HS256' ? SECRET : m.publicPem, algorithms: [m.alg], issuer: ISSUER, audience: AUDIENCE });
}

/** Runs one Express-style middleware outside HTTP; rejects when it refuses. */
function runMiddleware(handler: RequestHandler, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, host: 'localhost' };
    const req = { headers, get: (name: string) => headers[name.toLowerCase()], is: () => false, query: {}, method: 'GET', url: '/', protocol: 'http' };
    const res = {};
    void handler(req as never, res as never, (error?: unknown) => {
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error('middleware refused'));
    });
  });
}

interface Sample {
  /** Wall-clock throughput. */
  opsPerSec: number;
  /** Process CPU time (all threads) per operation: robust when other processes share the cores. */
  cpuUsPerOp: number;
}

/** Calls `op` with `CONCURRENCY` in flight for `durationMs`. */
async function measure(op: () => Promise<unknown>, durationMs: number): Promise<Sample> {
  let done = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await op();
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { opsPerSec: done / ((performance.now() - started) / 1000), cpuUsPerOp: (used.user + used.system) / done };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(10);
const ratio = (n: number, base: number): string => `${(n / base).toFixed(2)}×`.padStart(8);
const us = (n: number): string => n.toFixed(1).padStart(8);

async function verificationBench(): Promise<void> {
  console.log(`\n## Verifications (${CONCURRENCY} in flight, median of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms)`);
  console.log('verif/s is wall-clock throughput; CPU µs/op is process CPU time per verification (all threads), the');
  console.log('steadier figure when other work shares the cores. Ratios are against raw jose: higher verif/s and');
  console.log('lower CPU µs/op are better; "speed" = jose CPU µs/op ÷ contender CPU µs/op.');
  console.log(`${'alg'.padEnd(7)} ${'contender'.padEnd(28)} ${'verif/s'.padStart(10)} ${'vs jose'.padStart(8)} ${'CPU µs/op'.padStart(10)} ${'speed'.padStart(8)}`);
  for (const alg of ALGS) {
    const m = await material(alg);
    // Pre-imported keys for raw jose too (a Uint8Array secret would be re-imported on every call).
    const key = alg === 'HS256' ? createSecretKey(Buffer.from(SECRET)) : await importSPKI(m.publicPem, alg);
    const joseOptions = { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['exp'] };
    const cold = ours(m, false);
    const cached = ours(m, true);
    await cold.waitUntilReady();
    await cached.waitUntilReady();
    const oauth = oauth2(m);
    const ejwt = expressJwt(m);
    const contenders: [string, () => Promise<unknown>][] = [
      ['raw jose.jwtVerify', () => jwtVerify(m.token, key, joseOptions)],
      ['express-oauth2-jwt-bearer', () => runMiddleware(oauth, m.token)],
      ...(ejwt === undefined ? [] : ([['express-jwt', () => runMiddleware(ejwt, m.token)]] as [string, () => Promise<unknown>][])),
      ['ours, cache off', () => cold.authenticate({ headers: { authorization: `Bearer ${m.token}` } })],
      ['ours, cached', () => cached.authenticate({ headers: { authorization: `Bearer ${m.token}` } })],
    ];
    for (const [, op] of contenders) {
      await op(); // correctness check: every contender accepts the token
      await measure(op, 150); // warm up
    }
    const results = new Map<string, Sample[]>(contenders.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no contender always runs after the same neighbour (GC debt).
      for (let i = 0; i < contenders.length; i++) {
        const [name, op] = contenders[(i + round) % contenders.length]!;
        results.get(name)?.push(await measure(op, ROUND_MS));
      }
    }
    const summary = (name: string): Sample => {
      const samples = results.get(name) ?? [];
      return { opsPerSec: median(samples.map((x) => x.opsPerSec)), cpuUsPerOp: median(samples.map((x) => x.cpuUsPerOp)) };
    };
    const base = summary('raw jose.jwtVerify');
    for (const [name] of contenders) {
      const value = summary(name);
      console.log(
        `${alg.padEnd(7)} ${name.padEnd(28)} ${fmt(value.opsPerSec)} ${ratio(value.opsPerSec, base.opsPerSec)} ${us(value.cpuUsPerOp).padStart(10)} ${ratio(base.cpuUsPerOp, value.cpuUsPerOp)}`,
      );
    }
    if (ejwt === undefined) console.log(`${alg.padEnd(7)} ${'express-jwt'.padEnd(28)} ${'n/a'.padStart(10)}   (no EdDSA in jsonwebtoken)`);
    await cold.close();
    await cached.close();
  }
}

// ---------------------------------------------------------------- HTTP (server in a child process)

type ServerKind = 'bare' | 'express-jwt' | 'express-oauth2-jwt-bearer' | 'ours, cache off' | 'ours, cached';
const SERVER_KINDS: ServerKind[] = ['bare', 'express-jwt', 'express-oauth2-jwt-bearer', 'ours, cache off', 'ours, cached'];

async function serve(kind: ServerKind, m: Material): Promise<number> {
  const app = express();
  const guard: RequestHandler[] =
    kind === 'bare'
      ? []
      : kind === 'express-jwt'
        ? [expressJwt(m) as RequestHandler]
        : kind === 'express-oauth2-jwt-bearer'
          ? [oauth2(m)]
          : [ours(m, kind === 'ours, cached').requireAuth()];
  app.get('/me', ...guard, (_req, res) => {
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

async function httpBench(): Promise<void> {
  const m = await material('RS256');
  console.log(`\n## HTTP req/s, Express 5, RS256, autocannon 50 connections × ${HTTP_SECONDS} s`);
  const rows: [string, number, number, number][] = [];
  for (const kind of SERVER_KINDS) {
    const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => {
        resolve((message as { port: number }).port);
      });
      child.once('error', reject);
      child.send({ kind, material: m });
    });
    // Warm up (JIT, JWKS/keys, caches), then measure with the server's CPU counters reset.
    await autocannon({ url: `http://127.0.0.1:${port}/me`, connections: 10, duration: 1, headers: { authorization: `Bearer ${m.token}` } });
    await new Promise<void>((resolve) => {
      child.once('message', () => {
        resolve();
      });
      child.send({ cmd: 'start' });
    });
    const result = await autocannon({
      url: `http://127.0.0.1:${port}/me`,
      connections: 50,
      duration: HTTP_SECONDS,
      headers: { authorization: `Bearer ${m.token}` },
    });
    const cpuUs = await new Promise<number>((resolve) => {
      child.once('message', (message) => {
        resolve((message as { cpuUs: number }).cpuUs);
      });
      child.send({ cmd: 'stop' });
    });
    child.kill();
    const non2xx = result.non2xx + result.errors;
    rows.push([kind, result.requests.average, cpuUs / Math.max(1, result.requests.total), non2xx]);
  }
  const bare = rows[0];
  console.log(`${'middleware'.padEnd(28)} ${'req/s'.padStart(10)} ${'vs bare'.padStart(8)} ${'server CPU µs/req'.padStart(18)}`);
  for (const [kind, rps, cpu, bad] of rows) {
    console.log(`${kind.padEnd(28)} ${fmt(rps)} ${ratio(rps, bare?.[1] ?? 1)} ${us(cpu).padStart(18)}${bad > 0 ? `  (${bad} non-2xx/errors!)` : ''}`);
  }
}

if (process.argv.includes('--serve')) {
  let cpu = process.cpuUsage();
  process.on('message', (message) => {
    const { cmd, kind, material: m } = message as { cmd?: 'start' | 'stop'; kind: ServerKind; material: Material };
    if (cmd === 'start') {
      cpu = process.cpuUsage();
      process.send?.({ ok: true });
    } else if (cmd === 'stop') {
      const used = process.cpuUsage(cpu);
      process.send?.({ cpuUs: used.user + used.system });
    } else {
      void serve(kind, m).then((port) => process.send?.({ port }));
    }
  });
} else {
  console.log(`auth bench: node ${process.version}, ${new Date().toISOString()}`);
  await verificationBench();
  await httpBench();
}
