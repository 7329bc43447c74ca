import { describe, expect, it } from 'vitest';
import { configValue, env, loadConfig, readEnv, UX_FLOW_ENV, ValidationError } from '../../../src/core/index.js';

describe('loadConfig', () => {
  it('returns defaults when nothing is set', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      ENABLE_TRACING: false,
      TRACE_SAMPLE_RATE: 0.1,
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_CONCURRENCY: 5,
      MAX_RETRY_ATTEMPTS: 3,
      EMAIL_PROVIDER: 'dev',
      AI_QUALITY_THRESHOLD: 0.7,
      OPTIMIZATION_SAMPLE_SIZE: 10,
    });
    expect(config.ZIPKIN_ENDPOINT).toBeUndefined();
    expect(config.SENDGRID_API_KEY).toBeUndefined();
  });

  it('parses every documented variable from the environment', () => {
    const config = loadConfig({
      env: {
        ENABLE_TRACING: 'true',
        TRACE_SAMPLE_RATE: '0.25',
        JAEGER_ENDPOINT: 'http://jaeger:14268',
        ZIPKIN_ENDPOINT: 'http://zipkin:9411',
        ENABLE_SYSTEM_METRICS: 'off',
        ENABLE_PERFORMANCE_ALERTS: 'YES',
        REDIS_URL: 'rediss://user:pw@cache:6380/2',
        QUEUE_CONCURRENCY: '50',
        MAX_RETRY_ATTEMPTS: '7',
        EMAIL_PROVIDER: 'SES',
        SMTP_HOST: 'smtp.example.test',
        SMTP_PORT: '2525',
        SENDGRID_API_KEY: 'SG.key',
        AWS_SES_REGION: 'eu-west-1',
        ENABLE_PROMPT_OPTIMIZATION: '0',
        AI_QUALITY_THRESHOLD: '.8',
        OPTIMIZATION_SAMPLE_SIZE: '25',
      },
    });
    expect(config).toEqual({
      ENABLE_TRACING: true,
      TRACE_SAMPLE_RATE: 0.25,
      JAEGER_ENDPOINT: 'http://jaeger:14268',
      ZIPKIN_ENDPOINT: 'http://zipkin:9411',
      ENABLE_SYSTEM_METRICS: false,
      ENABLE_PERFORMANCE_ALERTS: true,
      REDIS_URL: 'rediss://user:pw@cache:6380/2',
      QUEUE_CONCURRENCY: 50,
      MAX_RETRY_ATTEMPTS: 7,
      EMAIL_PROVIDER: 'ses',
      SMTP_HOST: 'smtp.example.test',
      SMTP_PORT: 2525,
      SENDGRID_API_KEY: 'SG.key',
      AWS_SES_REGION: 'eu-west-1',
      ENABLE_PROMPT_OPTIMIZATION: false,
      AI_QUALITY_THRESHOLD: 0.8,
      OPTIMIZATION_SAMPLE_SIZE: 25,
    });
    expect(Object.keys(config).sort()).toEqual(Object.keys(UX_FLOW_ENV).sort());
  });

  it('explicit overrides beat the environment, which beats defaults', () => {
    const config = loadConfig({ env: { QUEUE_CONCURRENCY: '9', MAX_RETRY_ATTEMPTS: '4' }, overrides: { QUEUE_CONCURRENCY: 2 } });
    expect(config.QUEUE_CONCURRENCY).toBe(2);
    expect(config.MAX_RETRY_ATTEMPTS).toBe(4);
    expect(config.SMTP_PORT).toBe(587);
  });

  it('treats an empty or blank variable as unset', () => {
    expect(loadConfig({ env: { QUEUE_CONCURRENCY: '', SMTP_HOST: '   ' } })).toMatchObject({ QUEUE_CONCURRENCY: 5, SMTP_HOST: '127.0.0.1' });
  });

  const malformed: [string, string, RegExp][] = [
    ['ENABLE_TRACING', 'maybe', /"ENABLE_TRACING" must be true or false \(got "maybe"\)/],
    ['TRACE_SAMPLE_RATE', '1.5', /"TRACE_SAMPLE_RATE" must be at most 1/],
    ['TRACE_SAMPLE_RATE', '10%', /"TRACE_SAMPLE_RATE" must be a number/],
    ['TRACE_SAMPLE_RATE', '0x1', /"TRACE_SAMPLE_RATE" must be a number/],
    ['QUEUE_CONCURRENCY', '2.5', /"QUEUE_CONCURRENCY" must be an integer/],
    ['QUEUE_CONCURRENCY', '0', /"QUEUE_CONCURRENCY" must be at least 1/],
    ['QUEUE_CONCURRENCY', '99999999999999999999', /"QUEUE_CONCURRENCY" must be a safe integer/],
    ['MAX_RETRY_ATTEMPTS', 'three', /"MAX_RETRY_ATTEMPTS" must be an integer/],
    ['SMTP_PORT', '70000', /"SMTP_PORT" must be at most 65535/],
    ['EMAIL_PROVIDER', 'postmark', /"EMAIL_PROVIDER" must be one of smtp, sendgrid, ses, mailgun, dev/],
    ['ZIPKIN_ENDPOINT', 'zipkin:9411', /"ZIPKIN_ENDPOINT" must use http or https/],
    ['JAEGER_ENDPOINT', 'not a url', /"JAEGER_ENDPOINT" must be an absolute URL/],
    ['AI_QUALITY_THRESHOLD', '-0.1', /"AI_QUALITY_THRESHOLD" must be at least 0/],
  ];
  for (const [name, value, message] of malformed) {
    it(`throws a ValidationError naming ${name} for ${JSON.stringify(value)}`, () => {
      let thrown: unknown;
      try {
        loadConfig({ env: { [name]: value } });
      } catch (error) {
        thrown = error;
      }
      expect(ValidationError.isInstance(thrown)).toBe(true);
      expect((thrown as ValidationError).field).toBe(name);
      expect((thrown as ValidationError).message).toMatch(message);
    });
  }

  it('never echoes a secret value in an error', () => {
    const secret = 'ftp://admin:hunter2@cache';
    expect(() => loadConfig({ env: { REDIS_URL: secret } })).toThrow(/"REDIS_URL" must use redis or rediss$/);
  });
});

describe('configValue and readEnv', () => {
  it('configValue resolves one setting with option > env > default', () => {
    expect(configValue('QUEUE_CONCURRENCY', 3, { QUEUE_CONCURRENCY: '8' })).toBe(3);
    expect(configValue('QUEUE_CONCURRENCY', undefined, { QUEUE_CONCURRENCY: '8' })).toBe(8);
    expect(configValue('QUEUE_CONCURRENCY', undefined, {})).toBe(5);
    expect(configValue('ZIPKIN_ENDPOINT', undefined, {})).toBeUndefined();
  });

  it('configValue only parses the variable it is asked for', () => {
    expect(configValue('SMTP_PORT', undefined, { SMTP_PORT: '25', QUEUE_CONCURRENCY: 'bad' })).toBe(25);
  });

  it('readEnv works with a block’s own variable spec', () => {
    const spec = env.integer('HTTP port', { default: 3000, min: 1, max: 65_535 });
    expect(readEnv('PORT', spec, {})).toBe(3000);
    expect(readEnv('PORT', spec, { PORT: ' 8080 ' })).toBe(8080);
    expect(() => readEnv('PORT', spec, { PORT: '80a' })).toThrow(/"PORT" must be an integer/);
    const secret = env.string('API key', { secret: true });
    expect(readEnv('KEY', secret, {})).toBeUndefined();
    const mode = env.oneOf('Mode', ['fast', 'safe'] as const, { default: 'safe' });
    expect(readEnv('MODE', mode, { MODE: 'FAST' })).toBe('fast');
  });
});
