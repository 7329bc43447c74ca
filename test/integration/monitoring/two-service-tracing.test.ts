import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCorrelationId, PerformanceMonitor } from '../../../src/monitoring/index.js';
import { TraceCollector } from '../../helpers/monitoring-collector.js';

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('two services over HTTP, exported to a local collector', () => {
  const collector = new TraceCollector();
  let monitorA: PerformanceMonitor;
  let monitorB: PerformanceMonitor;
  let serverA: Server;
  let serverB: Server;
  let urlA: string;

  beforeAll(async () => {
    const collectorUrl = await collector.start();
    // B exports OTLP/HTTP JSON (as to Jaeger), A exports Zipkin v2 JSON.
    monitorB = new PerformanceMonitor('service-b', {
      enableTracing: true,
      enableSystemMetrics: false,
      env: {},
      tracing: { exporter: 'otlp', otlpEndpoint: collectorUrl, sampleRate: 1, scheduledDelayMs: 50 },
    });
    const appB = express();
    appB.use(monitorB.middleware());
    appB.get('/stock/:sku', (req, res) => {
      res.json({ sku: req.params.sku, correlationId: getCorrelationId() });
    });
    ({ server: serverB } = await listen(appB));
    const urlB = `http://127.0.0.1:${(serverB.address() as AddressInfo).port}`;

    monitorA = new PerformanceMonitor('service-a', {
      enableTracing: true,
      enableSystemMetrics: false,
      env: {},
      tracing: { exporter: 'zipkin', zipkinEndpoint: collectorUrl, sampleRate: 1, scheduledDelayMs: 50 },
    });
    const tracerA = monitorA.tracer!;
    const appA = express();
    appA.use(monitorA.middleware());
    appA.get('/checkout/:id', async (req, res) => {
      const response = await tracerA.traceFetch(`${urlB}/stock/${req.params.id}`);
      res.json({ fromB: await response.json(), correlationId: getCorrelationId() });
    });
    ({ server: serverA, url: urlA } = await listen(appA));
    await Promise.all([monitorA.tracer!.ready(), monitorB.tracer!.ready()]);
  });

  afterAll(async () => {
    serverA.closeAllConnections();
    serverB.closeAllConnections();
    await new Promise((resolve) => serverA.close(resolve));
    await new Promise((resolve) => serverB.close(resolve));
    await monitorA.shutdown();
    await monitorB.shutdown();
    await collector.stop();
  });

  it('puts both services in one trace, with B\'s server span a child of A\'s client span', async () => {
    const response = await fetch(`${urlA}/checkout/42`, { headers: { 'x-request-id': 'req-checkout-42' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-correlation-id')).toBe('req-checkout-42');
    const body = (await response.json()) as { fromB: { correlationId: string }; correlationId: string };
    // The correlation id travels with the outgoing call and is kept in AsyncLocalStorage on both sides.
    expect(body.correlationId).toBe('req-checkout-42');
    expect(body.fromB.correlationId).toBe('req-checkout-42');

    await collector.waitFor(() => collector.spans.length >= 3);
    expect(collector.problems).toEqual([]);
    const serverSpanA = collector.spans.find((s) => s.service === 'service-a' && s.kind === 'SERVER');
    const clientSpanA = collector.spans.find((s) => s.service === 'service-a' && s.kind === 'CLIENT');
    const serverSpanB = collector.spans.find((s) => s.service === 'service-b' && s.kind === 'SERVER');
    expect(serverSpanA?.format).toBe('zipkin');
    expect(serverSpanB?.format).toBe('otlp');
    expect(serverSpanA?.name.toLowerCase()).toBe('get /checkout/:id');
    expect(serverSpanB?.name).toBe('GET /stock/:sku');
    expect(clientSpanA?.traceId).toBe(serverSpanA?.traceId);
    expect(serverSpanB?.traceId).toBe(serverSpanA?.traceId);
    expect(clientSpanA?.parentId).toBe(serverSpanA?.spanId);
    expect(serverSpanB?.parentId).toBe(clientSpanA?.spanId);
    expect(serverSpanA?.parentId).toBeUndefined();
    // Attributes by the HTTP semantic conventions; the raw path is never the route.
    expect(serverSpanB?.attributes['http.route']).toBe('/stock/:sku');
    expect(serverSpanB?.attributes['url.path']).toBe('/stock/42');
    expect(serverSpanB?.attributes['http.response.status_code']).toBe(200);
    expect(serverSpanB?.attributes['correlation.id']).toBe('req-checkout-42');
    expect(serverSpanA?.attributes['http.route']).toBe('/checkout/:id');
    expect(clientSpanA?.attributes['url.full']).toBe(`${urlA.replace(/:\d+$/, '')}:${(serverB.address() as AddressInfo).port}/stock/42`);
    // The client span lies within the server span, and B's within A's client span.
    expect(clientSpanA!.startMicros).toBeGreaterThanOrEqual(serverSpanA!.startMicros);
    expect(clientSpanA!.startMicros + clientSpanA!.durationMicros).toBeLessThanOrEqual(serverSpanA!.startMicros + serverSpanA!.durationMicros + 1);
    expect(collector.requests.some((r) => r.path === '/api/v2/spans')).toBe(true);
    expect(collector.requests.some((r) => r.path === '/v1/traces')).toBe(true);
  });

  it('continues a trace started by the caller, read from a W3C traceparent header', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${urlA}/checkout/7`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(response.status).toBe(200);
    await collector.waitFor(() => collector.spans.filter((s) => s.traceId === traceId).length >= 3);
    const spans = collector.spans.filter((s) => s.traceId === traceId);
    expect(spans.find((s) => s.kind === 'SERVER' && s.service === 'service-a')?.parentId).toBe('00f067aa0ba902b7');
    expect(collector.problems).toEqual([]);
  });

  it('continues a trace started by a B3 caller', async () => {
    const traceId = '80f198ee56343ba864fe8b2a57d3eff7';
    const response = await fetch(`${urlA}/checkout/8`, { headers: { b3: `${traceId}-e457b5a2e4d86bd1-1` } });
    expect(response.status).toBe(200);
    await collector.waitFor(() => collector.spans.filter((s) => s.traceId === traceId).length >= 3);
    expect(collector.spans.find((s) => s.traceId === traceId && s.kind === 'SERVER' && s.service === 'service-a')?.parentId).toBe('e457b5a2e4d86bd1');
  });
});
