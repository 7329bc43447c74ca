import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { createRequestInstrumentation, PerformanceMonitor, type RequestEnd } from '../../../src/monitoring/index.js';
import { RequestInstrumentation } from '../../../src/monitoring/request-instrumentation.js';
import { httpGet, type HttpGetResult } from '../../helpers/http-get.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function listen(app: express.Express): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** GET on a keep-alive connection of its own. */
function get(url: string): Promise<HttpGetResult> {
  const agent = new Agent({ keepAlive: true });
  cleanups.push(async () => agent.destroy());
  return httpGet(url, agent);
}

/**
 * An app behind `middleware` whose `/hold/:n` answers `released n` only when `release(n)` is
 * called; resolves once `count` such requests (each on its own connection) are all in handlers.
 */
async function holdRequests(
  middleware: express.RequestHandler,
  count: number,
): Promise<{ app: express.Express; url: string; release: (n: number) => void; responses: ReturnType<typeof get>[]; numberOf: Map<ServerResponse, number> }> {
  const waiting = new Map<number, () => void>();
  const numberOf = new Map<ServerResponse, number>();
  let arrived: () => void = () => undefined;
  const allArrived = new Promise<void>((resolve) => {
    arrived = () => {
      if (waiting.size === count) resolve();
    };
  });
  const app = express();
  app.use(middleware);
  app.get('/hold/:n', (req, res) => {
    const n = Number(req.params.n);
    numberOf.set(res, n);
    waiting.set(n, () => res.send(`released ${n}`));
    arrived();
  });
  const url = await listen(app);
  const responses = Array.from({ length: count }, (_, n) => get(`${url}/hold/${n}`));
  await allArrived;
  return { app, url, release: (n) => waiting.get(n)?.(), responses, numberOf };
}

describe('requests in flight', () => {
  it('are counted as they start and as they end in any order, and only those still open get connection: close on shutdown', async () => {
    const monitor = new PerformanceMonitor('in-flight', { env: {}, enableSystemMetrics: false, defaultMetrics: false, alerts: [] });
    cleanups.push(() => monitor.shutdown());
    const count = 24;
    const { app, url, release, responses } = await holdRequests(monitor.middleware(), count);
    expect(monitor.stats().inFlight).toBe(count);

    // Release the oldest, the newest and middle ones in a scrambled order, leaving four open.
    const order = [0, count - 1, 12, 5, 6, 7, 22, 1, 13, 14, 2, 21, 8, 9, 3, 20, 11, 4, 15, 10];
    let open = count;
    for (const n of order) {
      release(n);
      const response = await responses[n]!;
      expect(response.body).toBe(`released ${n}`);
      expect(response.headers['connection']).not.toBe('close');
      open--;
      // 'close' on the server side follows the client's 'end' within a tick or two.
      await expect.poll(() => monitor.stats().inFlight).toBe(open);
    }
    const stillOpen = [16, 17, 18, 19];
    monitor.markShuttingDown();
    for (const n of stillOpen) release(n);
    for (const n of stillOpen) expect((await responses[n]!).headers['connection']).toBe('close');
    await expect.poll(() => monitor.stats().inFlight).toBe(0);
    // Responses started after the switch close their connections too.
    app.get('/late', (_req, res) => res.send('late'));
    expect((await get(`${url}/late`)).headers['connection']).toBe('close');
  });

  it('close their connections once the health checks say the service is shutting down, however that was set', async () => {
    const monitor = new PerformanceMonitor('draining', { env: {}, enableSystemMetrics: false, defaultMetrics: false, alerts: [] });
    cleanups.push(() => monitor.shutdown());
    const app = express();
    app.use(monitor.middleware());
    app.get('/work', (_req, res) => res.send('w'));
    const url = await listen(app);
    expect((await get(`${url}/work`)).headers['connection']).not.toBe('close');
    monitor.health.markShuttingDown();
    expect((await get(`${url}/work`)).headers['connection']).toBe('close');
  });

  it('form a list that holds exactly the open requests, whatever order they end in', async () => {
    const instrumentation = new RequestInstrumentation({});
    const count = 16;
    const { release, responses, numberOf } = await holdRequests(instrumentation.handle, count);
    const listed = (): number[] => {
      const out: number[] = [];
      instrumentation.forEachInFlight((res) => out.push(numberOf.get(res) ?? -1));
      return out.sort((a, b) => a - b);
    };
    const open = new Set(Array.from({ length: count }, (_, n) => n));
    expect(listed()).toEqual([...open]);
    for (const n of [7, 0, 15, 8, 6, 1, 14, 3, 9, 2, 13, 4, 12, 5, 11, 10]) {
      release(n);
      await responses[n];
      open.delete(n);
      await expect.poll(() => instrumentation.inFlight).toBe(open.size);
      expect(listed()).toEqual([...open].sort((a, b) => a - b));
    }
  });

  it('end when the client goes away first, reported as aborted', async () => {
    const ends: RequestEnd[] = [];
    const app = express();
    app.use(createRequestInstrumentation({ onRequestEnd: (end) => ends.push(end) }));
    let arrived: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    app.get('/never/:id', () => {
      arrived(); // never answers
    });
    const url = await listen(app);
    const req = request(`${url}/never/1`, { agent: false });
    req.on('error', () => undefined);
    req.end();
    await inHandler;
    req.destroy();
    await expect.poll(() => ends.length).toBe(1);
    expect(ends[0]).toMatchObject({ route: '/never/:id', aborted: true });
    expect(ends[0]!.durationSeconds).toBeGreaterThan(0);
  });

  it('skip ignored paths entirely, with or without a query string', async () => {
    const ends: RequestEnd[] = [];
    const app = express();
    app.use(createRequestInstrumentation({ ignorePaths: ['/metrics'], onRequestEnd: (end) => ends.push(end) }));
    app.get('/metrics', (_req, res) => res.send('m'));
    app.get('/work', (_req, res) => res.send('w'));
    const url = await listen(app);
    const ignored = await get(`${url}/metrics?name=x`);
    expect(ignored.headers['x-correlation-id']).toBeUndefined();
    const counted = await get(`${url}/work`);
    expect(counted.headers['x-correlation-id']).toMatch(/^[0-9a-f]{16}-[0-9a-f]+$/);
    await expect.poll(() => ends.length).toBe(1);
    expect(ends[0]).toMatchObject({ route: '/work', statusCode: 200, aborted: false });
  });

  it('skip only the exact ignored paths, not longer paths that start with one, however many are ignored', async () => {
    const many = [...Array.from({ length: 12 }, (_, i) => `/probe-${i}`), '/metrics'];
    for (const ignorePaths of [['/metrics', '/health/live'], many]) {
      const ends: RequestEnd[] = [];
      const app = express();
      app.use(createRequestInstrumentation({ ignorePaths, onRequestEnd: (end) => ends.push(end) }));
      app.get('/metrics', (_req, res) => res.send('m'));
      app.get('/metricsx', (_req, res) => res.send('x'));
      app.get('/metrics/sub', (_req, res) => res.send('s'));
      const url = await listen(app);
      for (const path of ['/metrics', '/metrics?a=1', '/metricsx', '/metricsx?a=1', '/metrics/sub']) {
        const response = await get(`${url}${path}`);
        expect(response.headers['x-correlation-id'] === undefined, `${path} with ${ignorePaths.length} ignored paths`).toBe(path.startsWith('/metrics?') || path === '/metrics');
      }
      await expect.poll(() => ends.length).toBe(3);
      expect(ends.map((end) => end.route).sort()).toEqual(['/metrics/sub', '/metricsx', '/metricsx']);
    }
  });
});
