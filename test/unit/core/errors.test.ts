import { describe, expect, it } from 'vitest';
import {
  AbortError,
  CircuitOpenError,
  MissingDependencyError,
  RateLimitError,
  RetryError,
  TimeoutError,
  UxFlowError,
  ValidationError,
} from '../../../src/core/index.js';

describe('UxFlowError', () => {
  it('carries code, message, cause and frozen details', () => {
    const cause = new Error('socket closed');
    const error = new UxFlowError('ERR_REDIS', 'Redis is unreachable', { cause, details: { host: '127.0.0.1' } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('UxFlowError');
    expect(error.code).toBe('ERR_REDIS');
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ host: '127.0.0.1' });
    expect(Object.isFrozen(error.details)).toBe(true);
    expect(error.toJSON()).toEqual({ name: 'UxFlowError', code: 'ERR_REDIS', message: 'Redis is unreachable', details: { host: '127.0.0.1' } });
    expect(JSON.stringify(error)).not.toContain('stack');
  });

  it('isInstance recognises errors from another copy of the package by the Symbol.for marker', () => {
    // A class defined apart from ours, as a second installed copy would be, with the same marker.
    const marker = Symbol.for('@ux-flow/common.error');
    class ForeignCopyError extends Error {
      readonly code = 'ERR_VALIDATION';
      readonly [marker] = true;
    }
    const foreign = new ForeignCopyError('x');
    expect(foreign instanceof UxFlowError).toBe(false);
    expect(UxFlowError.isInstance(foreign)).toBe(true);
    expect(ValidationError.isInstance(foreign)).toBe(true);
    expect(TimeoutError.isInstance(foreign)).toBe(false);
  });

  it('isInstance is false for plain errors and non-objects', () => {
    for (const value of [new Error('x'), null, undefined, 'ERR_VALIDATION', 42, { code: 'ERR_VALIDATION' }]) {
      expect(UxFlowError.isInstance(value)).toBe(false);
    }
  });

  it('each subclass has its own name, code and isInstance', () => {
    const cases: [UxFlowError, string, (v: unknown) => boolean][] = [
      [new ValidationError('timeoutMs', 'must be positive'), 'ERR_VALIDATION', ValidationError.isInstance],
      [new MissingDependencyError('mailgun.js', 'The mailgun provider'), 'ERR_MISSING_DEPENDENCY', MissingDependencyError.isInstance],
      [new AbortError(), 'ERR_ABORTED', AbortError.isInstance],
      [new TimeoutError('ping', 10), 'ERR_TIMEOUT', TimeoutError.isInstance],
      [new RetryError(3, [new Error('a'), new Error('b')]), 'ERR_RETRIES_EXHAUSTED', RetryError.isInstance],
      [new CircuitOpenError('smtp', 500), 'ERR_CIRCUIT_OPEN', CircuitOpenError.isInstance],
      [new RateLimitError('ip:1', { retryAfterMs: 10, limit: 5 }), 'ERR_RATE_LIMITED', RateLimitError.isInstance],
    ];
    for (const [error, code, isInstance] of cases) {
      expect(error.code).toBe(code);
      expect(error.name).toBe(error.constructor.name);
      expect(isInstance(error)).toBe(true);
      expect(UxFlowError.isInstance(error)).toBe(true);
      const others = cases.filter(([other]) => other !== error);
      for (const [, , otherIsInstance] of others) expect(otherIsInstance(error)).toBe(false);
    }
  });

  it('ValidationError names the field in the message and details', () => {
    const error = new ValidationError('REDIS_URL', 'must use redis: or rediss:');
    expect(error.message).toBe('"REDIS_URL" must use redis: or rediss:');
    expect(error.field).toBe('REDIS_URL');
    expect(error.details).toMatchObject({ field: 'REDIS_URL' });
  });

  it('MissingDependencyError tells what to install', () => {
    const error = new MissingDependencyError('@aws-sdk/client-sesv2', 'The "ses" email provider');
    expect(error.message).toContain('npm install @aws-sdk/client-sesv2');
    expect(error.packageName).toBe('@aws-sdk/client-sesv2');
  });

  it('RetryError keeps every attempt error and the last as cause', () => {
    const errors = [new Error('first'), new Error('second')];
    const error = new RetryError(2, errors);
    expect(error.cause).toBe(errors[1]);
    expect(error.errors).toEqual(errors);
    expect(error.message).toBe('Gave up after 2 attempts: second');
  });
});
