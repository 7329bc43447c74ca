import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../../src/core/index.js';
import { createCorrelatedLogger, DistributedTracer, getCorrelationId, newCorrelationId, resolveCorrelationId, runWithCorrelationId } from '../../../src/monitoring/index.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createConsoleLogger({ level: 'trace', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>), now: () => 0 }) };
}

describe('correlation ids', () => {
  it('takes x-correlation-id, then x-request-id, and replaces log-unsafe values', () => {
    expect(resolveCorrelationId({ 'x-correlation-id': 'abc-1', 'x-request-id': 'r-2' })).toBe('abc-1');
    expect(resolveCorrelationId({ 'x-request-id': 'r-2' })).toBe('r-2');
    const injected = resolveCorrelationId({ 'x-request-id': 'x"\n{"level":60}' });
    expect(injected).not.toContain('"');
    expect(injected).toMatch(/^[0-9a-f]{16}-[0-9a-f]+$/);
    expect(resolveCorrelationId({ 'x-request-id': 'a'.repeat(129) })).not.toBe('a'.repeat(129));
  });

  it('makes unique ids', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newCorrelationId()));
    expect(ids.size).toBe(10_000);
  });

  it('keeps the id across awaits and timers, and isolates concurrent requests', async () => {
    const seen = await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        runWithCorrelationId(id, async () => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
          await Promise.resolve();
          return getCorrelationId();
        }),
      ),
    );
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(getCorrelationId()).toBeUndefined();
  });

  it('echoes the id on the response and keeps it for the request in the tracer middleware', async () => {
    const tracer = new DistributedTracer('corr', { env: {}, exporter: 'none', sampleRate: 1 });
    const { lines, logger } = capture();
    const log = tracer.logger(logger);
    const app = express();
    app.use(tracer.middleware());
    app.get('/x', async (_req, res) => {
      await new Promise((resolve) => setImmediate(resolve));
      log.info({ step: 1 }, 'handled');
      res.send(getCorrelationId());
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      const given = await fetch(url, { headers: { 'x-correlation-id': 'given-1' } });
      expect(given.headers.get('x-correlation-id')).toBe('given-1');
      expect(await given.text()).toBe('given-1');
      const made = await fetch(url);
      const madeId = made.headers.get('x-correlation-id');
      expect(madeId).toMatch(/^[0-9a-f]{16}-[0-9a-f]+$/);
      expect(await made.text()).toBe(madeId);
      expect(lines[0]).toMatchObject({ correlation_id: 'given-1', step: 1, msg: 'handled', trace_flags: '01' });
      expect(lines[0]?.['trace_id']).toMatch(/^[0-9a-f]{32}$/);
      expect(lines[0]?.['span_id']).toMatch(/^[0-9a-f]{16}$/);
      expect(lines[1]).toMatchObject({ correlation_id: madeId });
      expect(lines[1]?.['trace_id']).not.toBe(lines[0]?.['trace_id']);
    } finally {
      server.close();
      await tracer.shutdown();
    }
  });
});

describe('createCorrelatedLogger', () => {
  it('adds the fields to objects, strings and errors, lets the caller\'s fields win, and wraps children', () => {
    const { lines, logger } = capture();
    const log = createCorrelatedLogger(logger);
    log.info('outside');
    runWithCorrelationId('c-1', () => {
      log.warn('count %d', 3);
      log.error(new Error('boom'));
      log.info({ correlation_id: 'mine', extra: true }, 'obj');
      log.child({ component: 'db' }).debug('child');
    });
    expect(lines).toEqual([
      { level: 30, time: 0, msg: 'outside' },
      { level: 40, time: 0, correlation_id: 'c-1', msg: 'count 3' },
      expect.objectContaining({ level: 50, correlation_id: 'c-1', msg: 'boom', err: expect.objectContaining({ message: 'boom' }) }),
      { level: 30, time: 0, correlation_id: 'mine', extra: true, msg: 'obj' },
      { level: 20, time: 0, component: 'db', correlation_id: 'c-1', msg: 'child' },
    ]);
  });
});
