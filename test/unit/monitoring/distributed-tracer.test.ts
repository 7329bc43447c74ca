import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { createConsoleLogger } from '../../../src/core/index.js';
import { DistributedTracer, getCorrelationId, runWithCorrelationId } from '../../../src/monitoring/index.js';

const tracers: DistributedTracer[] = [];
function makeTracer(options: ConstructorParameters<typeof DistributedTracer>[1] = {}) {
  const exporter = new InMemorySpanExporter();
  const tracer = new DistributedTracer('unit', { env: {}, sampleRate: 1, spanProcessors: [new SimpleSpanProcessor(exporter)], ...options });
  tracers.push(tracer);
  return { tracer, exporter };
}

afterEach(async () => {
  await Promise.all(tracers.splice(0).map((t) => t.shutdown()));
});

describe('DistributedTracer', () => {
  it('continues a producer\'s trace in the consumer (PRODUCER send / CONSUMER process, linked)', async () => {
    const { tracer, exporter } = makeTracer();
    const telemetry = tracer.messagingTelemetry();
    const carrier: Record<string, string> = {};
    const jobId = await runWithCorrelationId('corr-1', () => telemetry.produce('email_send', carrier, async () => 'job-1'));
    expect(jobId).toBe('job-1');
    expect(carrier['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(carrier['x-correlation-id']).toBe('corr-1');
    // Later, elsewhere (no active context): the worker processes the job.
    const seen = await context.with(context.active(), () =>
      telemetry.consume('email_send', { ...carrier }, { 'messaging.message.id': 'job-1', 'messaging.batch.message_count': 1 }, async () => ({
        correlationId: getCorrelationId(),
        traceId: trace.getActiveSpan()?.spanContext().traceId,
      })),
    );
    const [producer, consumer] = exporter.getFinishedSpans();
    expect(producer?.name).toBe('send email_send');
    expect(producer?.kind).toBe(SpanKind.PRODUCER);
    expect(producer?.attributes).toMatchObject({ 'messaging.operation.type': 'send', 'messaging.destination.name': 'email_send', 'messaging.system': 'redis' });
    expect(consumer?.name).toBe('process email_send');
    expect(consumer?.kind).toBe(SpanKind.CONSUMER);
    expect(consumer?.spanContext().traceId).toBe(producer?.spanContext().traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    expect(consumer?.links.map((l) => l.context.spanId)).toEqual([producer?.spanContext().spanId]);
    expect(consumer?.attributes).toMatchObject({ 'messaging.operation.type': 'process', 'messaging.message.id': 'job-1' });
    expect(seen).toEqual({ correlationId: 'corr-1', traceId: producer?.spanContext().traceId });
  });

  it('has exactly the structural telemetry shape the queue expects', () => {
    interface QueueTelemetry {
      produce<T>(queue: string, carrier: Record<string, string>, fn: () => Promise<T>): Promise<T>;
      consume<T>(queue: string, carrier: Record<string, string>, attributes: Record<string, string | number | boolean>, fn: () => Promise<T>): Promise<T>;
    }
    const { tracer } = makeTracer();
    expectTypeOf(tracer.messagingTelemetry()).toEqualTypeOf<QueueTelemetry>();
    expect(Object.keys(tracer.messagingTelemetry()).sort()).toEqual(['consume', 'produce']);
  });

  it('marks a failing job span as an error and rethrows', async () => {
    const { tracer, exporter } = makeTracer();
    await expect(tracer.messagingTelemetry().consume('q', {}, {}, async () => {
      throw new TypeError('bad payload');
    })).rejects.toThrow('bad payload');
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad payload' });
    expect(span?.attributes['error.type']).toBe('TypeError');
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
    // Without a producer context the consumer span starts its own trace.
    expect(span?.parentSpanContext).toBeUndefined();
  });

  it('nests withSpan spans and records errors', async () => {
    const { tracer, exporter } = makeTracer();
    await tracer.withSpan('outer', async () => {
      await tracer.withSpan('inner', (span) => span.setAttribute('k', 1), { 'a.b': 'c' });
      await expect(tracer.withSpan('failing', () => { throw new Error('nope'); })).rejects.toThrow('nope');
    });
    const spans = exporter.getFinishedSpans();
    const byName = new Map(spans.map((s) => [s.name, s]));
    expect(byName.get('inner')?.parentSpanContext?.spanId).toBe(byName.get('outer')?.spanContext().spanId);
    expect(byName.get('inner')?.attributes).toEqual({ 'a.b': 'c', k: 1 });
    expect(byName.get('failing')?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('injects W3C and B3 headers and the correlation id for outgoing calls', async () => {
    const { tracer } = makeTracer();
    await runWithCorrelationId('c-9', () =>
      tracer.withSpan('call', (span) => {
        const headers = tracer.injectHeaders({ accept: 'application/json' });
        const { traceId, spanId } = span.spanContext();
        expect(headers).toEqual({ accept: 'application/json', traceparent: `00-${traceId}-${spanId}-01`, b3: `${traceId}-${spanId}-1`, 'x-correlation-id': 'c-9' });
      }),
    );
  });

  it('round-trips a context through injectContext / extractContext', async () => {
    const { tracer } = makeTracer();
    await tracer.withSpan('root', (span) => {
      const carrier = tracer.injectContext({});
      expect(trace.getSpanContext(tracer.extractContext(carrier))).toMatchObject({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, isRemote: true });
    });
  });

  it('samples nothing at rate 0, yet propagates the trace id with the sampled flag off', async () => {
    const { tracer, exporter } = makeTracer({ sampleRate: 0 });
    await tracer.withSpan('unsampled', () => {
      expect(tracer.injectHeaders()['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    });
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('follows a sampled parent even at rate 0 (parent-based sampling)', async () => {
    const { tracer, exporter } = makeTracer({ sampleRate: 0 });
    const parent = tracer.extractContext({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    await context.with(parent, () => tracer.withSpan('child', () => undefined));
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toEqual(['4bf92f3577b34da6a3ce929d0e0e4736']);
  });

  it('chooses the exporter from configuration: Zipkin, then OTLP/Jaeger, then console in development, else none', () => {
    expect(new DistributedTracer('a', { env: { ZIPKIN_ENDPOINT: 'http://zipkin:9411', JAEGER_ENDPOINT: 'http://jaeger:4318' } }).exporterKind).toBe('zipkin');
    expect(new DistributedTracer('a', { env: { JAEGER_ENDPOINT: 'http://jaeger:14268' } }).exporterKind).toBe('otlp');
    expect(new DistributedTracer('a', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' } }).exporterKind).toBe('otlp');
    expect(new DistributedTracer('a', { env: { NODE_ENV: 'development' } }).exporterKind).toBe('console');
    expect(new DistributedTracer('a', { env: {} }).exporterKind).toBe('none');
    expect(new DistributedTracer('a', { env: { TRACE_SAMPLE_RATE: '0.25' } }).sampleRate).toBe(0.25);
    expect(new DistributedTracer('a', { env: { TRACE_SAMPLE_RATE: '0.25' }, sampleRate: 1 }).sampleRate).toBe(1);
  });

  it('maps a legacy Jaeger collector endpoint to Jaeger\'s OTLP port and says so', () => {
    const lines: string[] = [];
    new DistributedTracer('a', { env: { JAEGER_ENDPOINT: 'http://jaeger:14268/api/traces' }, logger: createConsoleLogger({ write: (line) => lines.push(line) }) });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, otlp: 'http://jaeger:4318/v1/traces' });
  });

  it('rejects malformed configuration, naming the option or variable', () => {
    expect(() => new DistributedTracer('a', { env: { TRACE_SAMPLE_RATE: 'lots' } })).toThrow('"TRACE_SAMPLE_RATE" must be a number');
    expect(() => new DistributedTracer('a', { env: {}, sampleRate: 2 })).toThrow('"sampleRate" must be a number between 0 and 1');
    expect(() => new DistributedTracer('a', { env: { ZIPKIN_ENDPOINT: 'zipkin:9411' } })).toThrow('"ZIPKIN_ENDPOINT"');
    expect(() => new DistributedTracer('a', { env: {}, maxExportBatchSize: 4096 })).toThrow('"maxExportBatchSize" must not exceed "maxQueueSize"');
    expect(() => new DistributedTracer('a', { env: {}, propagators: ['jaeger' as 'b3'] })).toThrow('"propagators" has an unknown propagator "jaeger"');
    expect(() => new DistributedTracer(' ', { env: {} })).toThrow('"serviceName"');
  });

  it('shuts down once, however often it is called', async () => {
    const { tracer } = makeTracer();
    const first = tracer.shutdown();
    expect(tracer.shutdown()).toBe(first);
    await first;
  });
});
