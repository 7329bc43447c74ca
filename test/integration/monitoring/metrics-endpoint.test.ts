import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PerformanceMonitor, UNMATCHED_ROUTE } from '../../../src/monitoring/index.js';
import { parsePrometheusText } from '../../helpers/monitoring-prom-parser.js';

const KNOWN_ROUTES = ['/users/:id', '/api/v1/orders/:orderId', '/tenants/:param/items/:itemId', '/boom', UNMATCHED_ROUTE];

function randomPath(i: number): string {
  const token = randomBytes(6).toString('hex');
  switch (i % 5) {
    case 0:
      return `/users/${token}`;
    case 1:
      return `/api/v1/orders/${i}?page=${token}`;
    case 2:
      return `/${token}/${randomUUID()}/${i}`; // unknown: 404
    case 3:
      return `/tenants/${i}/items/${token}`; // a router mounted on a parameterized path
    default:
      return i % 10 === 4 ? '/boom' : `/users/${i}/../../${token}%2F`;
  }
}

describe('/metrics of an Express app under 10,000 random paths', () => {
  let monitor: PerformanceMonitor;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    monitor = new PerformanceMonitor('metrics-test', {
      enableTracing: true,
      enableSystemMetrics: true,
      systemMetrics: { intervalMs: 200 },
      tracing: { exporter: 'none', sampleRate: 0.1 },
      env: {},
    });
    const app = express();
    app.use(monitor.middleware());
    app.get('/metrics', monitor.metricsHandler());
    app.use(monitor.healthHandler());
    app.get('/users/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    const orders = express.Router();
    orders.get('/orders/:orderId', (req, res) => {
      res.json({ id: req.params.orderId });
    });
    app.use('/api/v1', orders);
    const items = express.Router({ mergeParams: true });
    items.get('/items/:itemId', (_req, res) => {
      res.send('ok');
    });
    app.use('/tenants/:tenant', items);
    app.get('/boom', () => {
      throw new Error('boom');
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 10_000) {
        const i = next++;
        const response = await fetch(`${url}${randomPath(i)}`);
        await response.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  }, 240_000);

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await monitor.shutdown();
  });

  it('keeps the route label bounded to route templates and one value for unknown paths', async () => {
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { families, errors } = parsePrometheusText(await response.text());
    expect(errors).toEqual([]);
    const requests = families.get('http_server_requests_total')!;
    const routes = new Set(requests.samples.map((s) => s.labels['route']));
    expect([...routes].sort()).toEqual([...KNOWN_ROUTES].sort());
    // method × route × status: a handful of series, not thousands.
    expect(requests.samples.length).toBeLessThanOrEqual(10);
    expect(requests.samples.reduce((sum, s) => sum + s.value, 0)).toBe(10_000);
    const unmatched = requests.samples.filter((s) => s.labels['route'] === UNMATCHED_ROUTE);
    expect(unmatched.every((s) => s.labels['status_code'] === '404')).toBe(true);
    expect(unmatched.reduce((sum, s) => sum + s.value, 0)).toBe(3000); // cases 2 and the dot-segment half of case 4
    const errorsTotal = families.get('http_server_errors_total')!;
    expect(errorsTotal.samples.find((s) => s.labels['route'] === '/boom')?.value).toBe(1000);
    const histogram = families.get('http_server_request_duration_seconds')!;
    expect(histogram.type).toBe('histogram');
    const count = histogram.samples.filter((s) => s.name.endsWith('_count')).reduce((sum, s) => sum + s.value, 0);
    expect(count).toBe(10_000);
    // The OTel-advised buckets, in seconds.
    const bounds = [...new Set(histogram.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels['le']))];
    expect(bounds).toEqual(['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']);
    // Probes and scrapes are not measured.
    expect([...routes].some((route) => route?.includes('metrics'))).toBe(false);
  });

  it('exposes system, default Node and rolling-window metrics', async () => {
    await new Promise((resolve) => monitor.systemMetrics!.once('sample', resolve));
    const { families } = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    for (const name of [
      'process_cpu_utilization_ratio',
      'system_cpu_utilization_ratio',
      'nodejs_memory_bytes',
      'nodejs_eventloop_delay_p99_seconds',
      'nodejs_eventloop_utilization_ratio',
      'system_load_average',
      'nodejs_handles_active',
      'nodejs_gc_pause_seconds_total',
      'process_cpu_user_seconds_total',
      'nodejs_heap_size_used_bytes',
      'http_server_active_requests',
      'http_server_throughput_requests_per_second',
      'http_server_error_ratio',
      'http_server_request_duration_p95_seconds',
    ]) {
      expect(families.has(name), name).toBe(true);
    }
    const heapUsed = families.get('nodejs_memory_bytes')!.samples.find((s) => s.labels['type'] === 'heap_used')!.value;
    expect(heapUsed).toBeGreaterThan(1_000_000);
    expect(families.get('http_server_error_ratio')!.samples[0]!.value).toBeCloseTo(0.1, 2);
    expect(families.get('http_server_throughput_requests_per_second')!.samples[0]!.value).toBeGreaterThan(0);
  });

  it('passes promtool check metrics', async () => {
    const body = await (await fetch(`${url}/metrics`)).text();
    const result = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    if (result.error !== undefined) {
      throw new Error(`promtool is required (Debian package "prometheus"): ${result.error.message}`);
    }
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('serves OpenMetrics when the scraper asks for it', async () => {
    const response = await fetch(`${url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;q=0.5' } });
    expect(response.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const text = await response.text();
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text).toContain('# TYPE http_server_requests counter');
    expect(text).toMatch(/^http_server_requests_total\{/m);
    // The Prometheus rendering is unchanged afterwards (metric objects are not renamed).
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('# TYPE http_server_requests_total counter');
  });
});
