import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../../src/core/index.js';
import { DistributedTracer, getCorrelationId } from '../../../src/monitoring/index.js';

interface Seen {
  correlationId: string | undefined;
  outgoing: Record<string, string>;
  log: Record<string, unknown>;
  afterSetValue: string | undefined;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** An Express app behind `tracer.middleware()` whose handler reports what it saw, after an await. */
async function serve(sampleRate: number): Promise<{ tracer: DistributedTracer; exporter: InMemorySpanExporter; get: (headers?: Record<string, string>) => Promise<Seen> }> {
  const exporter = new InMemorySpanExporter();
  const tracer = new DistributedTracer('request-tracing', { env: {}, sampleRate, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const lines: Record<string, unknown>[] = [];
  const log = tracer.logger(createConsoleLogger({ write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>), now: () => 0 }));
  const app = express();
  app.use(tracer.middleware());
  app.get('/items/:id', async (_req, res) => {
    await new Promise((resolve) => setImmediate(resolve));
    log.info('handling');
    const key = Symbol.for('test key');
    const derived = context.active().setValue(key, 1);
    res.json({
      correlationId: getCorrelationId(),
      outgoing: tracer.injectHeaders(),
      log: lines.at(-1),
      // A context derived from the request's keeps its span and correlation id.
      afterSetValue: context.with(derived, () => `${getCorrelationId() ?? ''}/${trace.getActiveSpan()?.spanContext().traceId ?? ''}`),
    });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  cleanups.push(async () => {
    server.close();
    await tracer.shutdown();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items/7`;
  return { tracer, exporter, get: async (headers = {}) => (await (await fetch(url, { headers })).json()) as Seen };
}

const PARENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

describe('SERVER spans of requests that are not sampled', () => {
  it('export nothing, yet give logs and outgoing calls a trace id with the sampled flag off', async () => {
    const { exporter, get } = await serve(0);
    const seen = await get({ 'x-correlation-id': 'unsampled-1' });
    expect(seen.correlationId).toBe('unsampled-1');
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(seen.outgoing['traceparent'] ?? '');
    expect(match).not.toBeNull();
    expect(seen.outgoing['x-correlation-id']).toBe('unsampled-1');
    expect(seen.log).toMatchObject({ correlation_id: 'unsampled-1', trace_id: match?.[1], span_id: match?.[2], trace_flags: '00' });
    expect(seen.afterSetValue).toBe(`unsampled-1/${match?.[1] ?? ''}`);
    const other = await get();
    expect(other.outgoing['traceparent']?.slice(3, 35)).not.toBe(match?.[1]);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('keep the trace id of an unsampled caller and record nothing, even at rate 1', async () => {
    const { exporter, get } = await serve(1);
    const seen = await get({ traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-00` });
    expect(seen.outgoing['traceparent']).toMatch(new RegExp(`^00-${PARENT_TRACE}-(?!${PARENT_SPAN})[0-9a-f]{16}-00$`));
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('still follow a sampled caller at rate 0 (parent-based)', async () => {
    const { exporter, get } = await serve(0);
    const seen = await get({ traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`, 'x-request-id': 'sampled-1' });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('GET /items/:id');
    expect(span?.spanContext().traceId).toBe(PARENT_TRACE);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT_SPAN);
    expect(span?.attributes).toMatchObject({ 'correlation.id': 'sampled-1', 'http.route': '/items/:id', 'http.response.status_code': 200 });
    expect(seen.outgoing['traceparent']).toBe(`00-${PARENT_TRACE}-${span?.spanContext().spanId ?? ''}-01`);
    expect(seen.log).toMatchObject({ correlation_id: 'sampled-1', trace_id: PARENT_TRACE, span_id: span?.spanContext().spanId, trace_flags: '01' });
  });
});

describe('incoming B3 trace context', () => {
  it('is continued from the single b3 header and from the multi-header form, each header alone enough to look', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new DistributedTracer('b3-in', { env: {}, sampleRate: 0, propagators: ['tracecontext', 'b3', 'b3multi'], spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const app = express();
    app.use(tracer.middleware());
    app.get('/b3', (_req, res) => res.json(tracer.injectHeaders()));
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    cleanups.push(async () => {
      server.close();
      await tracer.shutdown();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/b3`;
    const call = async (headers: Record<string, string>): Promise<Record<string, string>> => (await (await fetch(url, { headers })).json()) as Record<string, string>;

    const single = await call({ b3: `${PARENT_TRACE}-${PARENT_SPAN}-1` });
    const multi = await call({ 'x-b3-traceid': PARENT_TRACE.replace('4b', '5c'), 'x-b3-spanid': PARENT_SPAN, 'x-b3-sampled': '1' });
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.spanContext().traceId)).toEqual([PARENT_TRACE, PARENT_TRACE.replace('4b', '5c')]);
    expect(spans.map((span) => span.parentSpanContext?.spanId)).toEqual([PARENT_SPAN, PARENT_SPAN]);
    expect(single['traceparent']).toBe(`00-${PARENT_TRACE}-${spans[0]?.spanContext().spanId ?? ''}-01`);
    expect(multi['x-b3-traceid']).toBe(PARENT_TRACE.replace('4b', '5c'));
    // Unsampled B3 callers are followed too: nothing recorded, their trace id kept.
    const unsampled = await call({ 'x-b3-traceid': PARENT_TRACE, 'x-b3-spanid': PARENT_SPAN, 'x-b3-sampled': '0' });
    expect(unsampled['traceparent']).toMatch(new RegExp(`^00-${PARENT_TRACE}-[0-9a-f]{16}-00$`));
    expect(exporter.getFinishedSpans()).toHaveLength(2);
  });
});

describe('the up-front sampling decision', () => {
  it('samples about the configured share of new traces', async () => {
    const { exporter, get } = await serve(0.5);
    const outcomes = await Promise.all(Array.from({ length: 400 }, () => get()));
    const sampled = outcomes.filter((seen) => seen.outgoing['traceparent']?.endsWith('-01')).length;
    // Binomial(400, 0.5): sd 10; 120 is 8 sd away from the mean on either side.
    expect(sampled).toBeGreaterThan(80);
    expect(sampled).toBeLessThan(320);
    expect(exporter.getFinishedSpans()).toHaveLength(sampled);
    expect(new Set(exporter.getFinishedSpans().map((span) => span.spanContext().traceId)).size).toBe(sampled);
  });

  it('leaves other root spans to the trace-id ratio sampler', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new DistributedTracer('roots', { env: {}, sampleRate: 0.5, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    cleanups.push(() => tracer.shutdown());
    const flags = await Promise.all(Array.from({ length: 400 }, (_, i) => tracer.withSpan(`job ${i}`, (span) => span.spanContext().traceFlags)));
    const sampled = flags.filter((flag) => flag === 1).length;
    expect(sampled).toBeGreaterThan(80);
    expect(sampled).toBeLessThan(320);
    expect(exporter.getFinishedSpans()).toHaveLength(sampled);
  });
});
