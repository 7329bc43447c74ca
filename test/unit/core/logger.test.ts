import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createConsoleLogger, createSilentLogger, type Logger, UxFlowError } from '../../../src/core/index.js';

function capture(level: Parameters<typeof createConsoleLogger>[0] = {}): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createConsoleLogger({ now: () => 1000, ...level, write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('createConsoleLogger', () => {
  it('writes pino-shaped JSON lines with bindings, object fields and message', () => {
    const { logger, lines } = capture({ bindings: { service: 'api' } });
    logger.info({ jobId: '7' }, 'job %s done in %d ms', 'x', 12);
    expect(lines).toEqual([{ level: 30, time: 1000, service: 'api', jobId: '7', msg: 'job x done in 12 ms' }]);
  });

  it('filters below the level and supports silent', () => {
    const { logger, lines } = capture({ level: 'warn' });
    logger.debug('no');
    logger.info('no');
    logger.warn('yes');
    logger.fatal('yes');
    expect(lines.map((l) => l['level'])).toEqual([40, 60]);
    const silent = capture({ level: 'silent' });
    silent.logger.fatal('nothing');
    expect(silent.lines).toEqual([]);
  });

  it('rejects an unknown level with the option name', () => {
    expect(() => createConsoleLogger({ level: 'loud' as never })).toThrow(/"level" must be one of/);
  });

  it('child loggers add bindings without changing the parent', () => {
    const { logger, lines } = capture({ bindings: { a: 1 } });
    const child = logger.child({ b: 2 }).child({ c: 3 });
    child.info('child');
    logger.info('parent');
    expect(lines[0]).toMatchObject({ a: 1, b: 2, c: 3, msg: 'child' });
    expect(lines[1]).not.toHaveProperty('b');
  });

  it('serialises errors with code, details and cause, and survives circular objects', () => {
    const { logger, lines } = capture();
    const error = new UxFlowError('ERR_REDIS', 'down', { cause: new Error('ECONNREFUSED'), details: { port: 6379 } });
    logger.error({ err: error }, 'failed');
    logger.error(new Error('bare'));
    const circular: Record<string, unknown> = { name: 'loop' };
    circular['self'] = circular;
    logger.warn({ circular, big: 10n }, 'odd values');
    expect(lines[0]).toMatchObject({ msg: 'failed', err: { type: 'UxFlowError', code: 'ERR_REDIS', details: { port: 6379 }, cause: { message: 'ECONNREFUSED' } } });
    expect(lines[1]).toMatchObject({ msg: 'bare', err: { message: 'bare' } });
    expect(lines[2]).toMatchObject({ circular: { name: 'loop', self: '[Circular]' }, big: '10' });
  });
});

describe('createSilentLogger', () => {
  it('accepts every call and returns itself as child', () => {
    const logger = createSilentLogger();
    expect(() => {
      logger.info({ a: 1 }, 'x');
      logger.error('y');
    }).not.toThrow();
    expect(logger.child({ a: 1 })).toBe(logger);
  });
});

describe('pino compatibility', () => {
  it('a pino instance is a Logger and its output is what the blocks log', () => {
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const logger: Logger = pino({ level: 'debug', base: undefined, timestamp: false }, sink);
    logger.child({ block: 'queue' }).debug({ jobId: '1' }, 'picked %s', 'up');
    const line = JSON.parse(chunks.join('')) as Record<string, unknown>;
    expect(line).toEqual({ level: 20, block: 'queue', jobId: '1', msg: 'picked up' });
  });
});
