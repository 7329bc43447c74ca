import { Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { PerformanceMonitor } from '../../../src/monitoring/index.js';
import { httpGet } from '../../helpers/http-get.js';

const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });

afterAll(async () => {
  await redis.quit();
});

async function serve(monitor: PerformanceMonitor, extra?: (app: express.Express) => void): Promise<{ server: Server; url: string }> {
  const app = express();
  app.use(monitor.middleware());
  app.use(monitor.healthHandler());
  extra?.(app);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('health endpoints', () => {
  it('reports ready with a real Redis check, and 503 with details when a critical check fails or times out', async () => {
    const monitor = new PerformanceMonitor('health', { env: {}, enableSystemMetrics: false, defaultMetrics: false });
    monitor.registerHealthCheck('redis', async () => (await redis.ping()) === 'PONG', { timeoutMs: 2000 });
    const { server, url } = await serve(monitor);
    try {
      const live = await httpGet(`${url}/health/live`);
      expect(live.status).toBe(200);
      expect(JSON.parse(live.body)).toMatchObject({ status: 'ok' });
      const ready = await httpGet(`${url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready', checks: { redis: { status: 'up', critical: true } } });

      // A second Redis client pointed at a closed port, and a check that hangs.
      monitor.registerHealthCheck('cache', async () => {
        const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        dead.on('error', () => undefined); // the rejection of connect() is what the check reports
        try {
          await dead.connect();
          return true;
        } finally {
          dead.disconnect();
        }
      });
      monitor.registerHealthCheck('smtp', (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('aborted'))), { timeoutMs: 100 });
      monitor.registerHealthCheck('optional', () => false, { critical: false });
      const failing = await httpGet(`${url}/health/ready`);
      expect(failing.status).toBe(503);
      const report = JSON.parse(failing.body) as { status: string; checks: Record<string, { status: string; error?: string }> };
      expect(report.status).toBe('not_ready');
      expect(report.checks['redis']?.status).toBe('up');
      expect(report.checks['cache']).toMatchObject({ status: 'down' });
      expect(report.checks['cache']?.error).toMatch(/ECONNREFUSED|Connection is closed/);
      expect(report.checks['smtp']).toMatchObject({ status: 'down', error: 'timed out after 100 ms' });
      expect(report.checks['optional']).toMatchObject({ status: 'down', error: 'check returned false' });
      monitor.health.unregister('cache');
      monitor.health.unregister('smtp');
      // A failing non-critical check is reported but leaves the service ready.
      expect((await httpGet(`${url}/health/ready`)).status).toBe(200);
      monitor.setReady(false);
      expect((await httpGet(`${url}/health/ready`)).status).toBe(503);
    } finally {
      server.closeAllConnections();
      server.close();
      await monitor.shutdown();
    }
  });
});

describe('graceful shutdown', () => {
  it('turns readiness to 503, stops accepting, lets an in-flight request finish, closes keep-alive sockets and flushes', async () => {
    const monitor = new PerformanceMonitor('shutdown', { env: {}, enableSystemMetrics: false, defaultMetrics: false });
    let release: () => void = () => undefined;
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const { server, url } = await serve(monitor, (app) => {
      app.get('/slow', async (_req, res) => {
        entered();
        await new Promise<void>((resolve) => (release = resolve));
        res.send('done');
      });
      app.get('/fast', (_req, res) => {
        res.send('fast');
      });
    });
    const agent = new Agent({ keepAlive: true });
    // An idle keep-alive connection that would hold server.close() open without the helper.
    expect((await httpGet(`${url}/fast`, agent)).status).toBe(200);
    const slow = httpGet(`${url}/slow`, new Agent({ keepAlive: true }));
    await inHandler;

    const { shutdown } = monitor.gracefulShutdown(server, { readinessDelayMs: 0, drainTimeoutMs: 10_000 });
    const finished = shutdown();
    // The readiness report turns to 503 at once (a probe's socket may already be closed, so ask directly).
    expect((await monitor.checkHealth()).status).toBe('shutting_down');
    expect(monitor.health.isShuttingDown).toBe(true);
    await expect(httpGet(`${url}/fast`)).rejects.toThrow(/ECONNREFUSED/);
    let done = false;
    void finished.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(done).toBe(false); // still draining the slow request
    release();
    const response = await slow;
    expect(response.status).toBe(200);
    expect(response.body).toBe('done');
    expect(response.headers['connection']).toBe('close');
    await finished;
    expect(server.listening).toBe(false);
    expect(shutdown()).toBe(finished);
    agent.destroy();
  });

  it('cuts connections still open at the drain timeout', async () => {
    const monitor = new PerformanceMonitor('shutdown-timeout', { env: {}, enableSystemMetrics: false, defaultMetrics: false });
    let entered: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const { server, url } = await serve(monitor, (app) => {
      app.get('/stuck', () => {
        entered(); // never answers
      });
    });
    const stuck = httpGet(`${url}/stuck`).catch((error: unknown) => error);
    await inHandler;
    const started = Date.now();
    await monitor.gracefulShutdown(server, { drainTimeoutMs: 200 }).shutdown();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(await stuck).toBeInstanceOf(Error);
    expect(server.listening).toBe(false);
  });
});
