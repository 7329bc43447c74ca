import type { Logger as PinoLogger } from 'pino';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type CircuitPermit,
  CircuitBreaker,
  configValue,
  env,
  loadConfig,
  type Logger,
  type RateLimitResult,
  type RedisRateLimiter,
  readEnv,
  retry,
  UxFlowError,
  type UxFlowErrorCode,
  ValidationError,
} from '../../src/core/index.js';

describe('core public types', () => {
  it('config fields without a default may be undefined; the others may not', () => {
    const config = loadConfig();
    expectTypeOf(config.ZIPKIN_ENDPOINT).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.SENDGRID_API_KEY).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.QUEUE_CONCURRENCY).toEqualTypeOf<number>();
    expectTypeOf(config.ENABLE_TRACING).toEqualTypeOf<boolean>();
    expectTypeOf(config.EMAIL_PROVIDER).toEqualTypeOf<'smtp' | 'sendgrid' | 'ses' | 'mailgun' | 'dev'>();
    expectTypeOf(configValue('SMTP_PORT')).toEqualTypeOf<number>();
    expectTypeOf(configValue('JAEGER_ENDPOINT')).toEqualTypeOf<string | undefined>();
    // @ts-expect-error unknown variable names are refused
    configValue('NOT_A_VARIABLE');
  });

  it('readEnv reflects whether the spec has a default', () => {
    expectTypeOf(readEnv('PORT', env.integer('port', { default: 3000 }))).toEqualTypeOf<number>();
    expectTypeOf(readEnv('KEY', env.string('key'))).toEqualTypeOf<string | undefined>();
  });

  it('isInstance narrows', () => {
    const error: unknown = new Error('x');
    if (ValidationError.isInstance(error)) expectTypeOf(error.field).toEqualTypeOf<string>();
    if (UxFlowError.isInstance(error)) expectTypeOf(error.code).toEqualTypeOf<UxFlowErrorCode>();
  });

  it('a pino logger is accepted where a Logger is expected', () => {
    expectTypeOf<PinoLogger>().toExtend<Logger>();
  });

  it('retry, breaker and limiter keep the caller’s types', () => {
    expectTypeOf(retry(() => 42)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(new CircuitBreaker({ name: 'n' }).execute(() => Promise.resolve('x'))).toEqualTypeOf<Promise<string>>();
    expectTypeOf(new CircuitBreaker({ name: 'n' }).tryAcquire()).toEqualTypeOf<CircuitPermit | undefined>();
    expectTypeOf<RedisRateLimiter['consume']>().returns.toEqualTypeOf<Promise<RateLimitResult>>();
  });
});
