import { ValidationError } from './validation-error.js';

/**
 * How one environment variable is read: its parser, default and description.
 * Build specs with the {@link env} parsers.
 */
export interface EnvVarSpec<T, D extends T | undefined = T | undefined> {
  /** Parses the raw string; throws {@link ValidationError} naming `name` when malformed. */
  parse(raw: string, name: string): T;
  /** Used when neither an explicit option nor the variable is set. `undefined`: no default. */
  readonly default: D;
  /** One line for docs and error messages. */
  readonly description: string;
  /** A secret is never echoed in an error message. Default `false`. */
  readonly secret?: boolean;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function shown(raw: string, secret: boolean | undefined): string {
  return secret ? '' : ` (got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)})`;
}

function spec<T, D extends T | undefined>(
  parse: (raw: string, name: string) => T,
  description: string,
  defaultValue: D,
  secret?: boolean,
): EnvVarSpec<T, D> {
  return { parse, description, default: defaultValue, secret };
}

/**
 * Parsers for environment variables. Each returns an {@link EnvVarSpec}; a malformed value is a
 * {@link ValidationError} naming the variable, never a silent fallback to the default.
 *
 * @example
 * ```ts
 * const SMTP_POOL_SIZE = env.integer('Pooled SMTP connections', { default: 5, min: 1, max: 100 });
 * SMTP_POOL_SIZE.parse('abc', 'SMTP_POOL_SIZE'); // throws: "SMTP_POOL_SIZE" must be an integer (got "abc")
 * ```
 */
export const env = {
  /** `true/false`, `1/0`, `yes/no`, `on/off`, any case. */
  boolean<D extends boolean | undefined = undefined>(description: string, options: { default?: D } = {}): EnvVarSpec<boolean, D> {
    return spec(
      (raw, name) => {
        const value = raw.trim().toLowerCase();
        if (TRUE.has(value)) return true;
        if (FALSE.has(value)) return false;
        throw new ValidationError(name, `must be true or false${shown(raw, false)}`);
      },
      description,
      options.default as D,
    );
  },
  /** A decimal number, optionally bounded (inclusive). */
  number<D extends number | undefined = undefined>(description: string, options: NumericOptions<D> = {}): EnvVarSpec<number, D> {
    return numeric(description, options, (text, raw, name) => {
      const value = NUMBER.test(text) ? Number(text) : Number.NaN;
      if (!Number.isFinite(value)) throw new ValidationError(name, `must be a number${shown(raw, false)}`);
      return value;
    });
  },
  /** A base-10 integer, optionally bounded (inclusive). */
  integer<D extends number | undefined = undefined>(description: string, options: NumericOptions<D> = {}): EnvVarSpec<number, D> {
    return numeric(description, options, (text, raw, name) => {
      if (!/^[+-]?\d+$/.test(text)) throw new ValidationError(name, `must be an integer${shown(raw, false)}`);
      const value = Number(text);
      if (!Number.isSafeInteger(value)) throw new ValidationError(name, `must be a safe integer${shown(raw, false)}`);
      return value;
    });
  },
  /** Any non-empty string (surrounding whitespace trimmed). */
  string<D extends string | undefined = undefined>(
    description: string,
    options: { default?: D; secret?: boolean } = {},
  ): EnvVarSpec<string, D> {
    return spec(
      (raw, name) => {
        const value = raw.trim();
        if (value === '') throw new ValidationError(name, 'must not be empty');
        return value;
      },
      description,
      options.default as D,
      options.secret,
    );
  },
  /** An absolute URL whose scheme is one of `protocols` (e.g. `['http:', 'https:']`). */
  url<D extends string | undefined = undefined>(
    description: string,
    options: { default?: D; protocols: readonly string[]; secret?: boolean },
  ): EnvVarSpec<string, D> {
    return spec(
      (raw, name) => {
        const value = raw.trim();
        let url: URL;
        try {
          url = new URL(value);
        } catch (cause) {
          throw new ValidationError(name, `must be an absolute URL${shown(raw, options.secret)}`, { cause });
        }
        if (!options.protocols.includes(url.protocol)) {
          throw new ValidationError(
            name,
            `must use ${options.protocols.map((p) => p.replace(/:$/, '')).join(' or ')}${shown(raw, options.secret)}`,
          );
        }
        return value;
      },
      description,
      options.default as D,
      options.secret,
    );
  },
  /** One of a fixed set of values (case-insensitive on input, returned as listed). */
  oneOf<const V extends string, D extends V | undefined = undefined>(
    description: string,
    values: readonly V[],
    options: { default?: D } = {},
  ): EnvVarSpec<V, D> {
    return spec(
      (raw, name) => {
        const text = raw.trim().toLowerCase();
        const match = values.find((value) => value.toLowerCase() === text);
        if (match === undefined) throw new ValidationError(name, `must be one of ${values.join(', ')}${shown(raw, false)}`);
        return match;
      },
      description,
      options.default as D,
    );
  },
};

/** Options of {@link env}.number and {@link env}.integer: a default and inclusive bounds. */
export interface NumericOptions<D> {
  /** Used when the variable is unset. Default: none. */
  default?: D;
  /** Smallest allowed value, inclusive. Default: no bound. */
  min?: number;
  /** Largest allowed value, inclusive. Default: no bound. */
  max?: number;
}

function numeric<D extends number | undefined>(
  description: string,
  options: NumericOptions<D>,
  parseValue: (text: string, raw: string, name: string) => number,
): EnvVarSpec<number, D> {
  return spec(
    (raw, name) => {
      const value = parseValue(raw.trim(), raw, name);
      checkRange(name, value, options.min, options.max);
      return value;
    },
    description,
    options.default as D,
  );
}

function checkRange(name: string, value: number, min: number | undefined, max: number | undefined): void {
  if (min !== undefined && value < min) throw new ValidationError(name, `must be at least ${min} (got ${value})`);
  if (max !== undefined && value > max) throw new ValidationError(name, `must be at most ${max} (got ${value})`);
}

/**
 * Every environment variable the package reads, with its parser and default. The keys are the
 * variable names users set; {@link loadConfig} returns the same keys, typed.
 */
export const UX_FLOW_ENV = {
  ENABLE_TRACING: env.boolean('Turn distributed tracing on', { default: false }),
  TRACE_SAMPLE_RATE: env.number('Share of root traces sampled (parent-based)', { default: 0.1, min: 0, max: 1 }),
  JAEGER_ENDPOINT: env.url('Jaeger collector; spans go over OTLP/HTTP', { protocols: ['http:', 'https:'] }),
  ZIPKIN_ENDPOINT: env.url('Zipkin collector (POST /api/v2/spans)', { protocols: ['http:', 'https:'] }),
  ENABLE_SYSTEM_METRICS: env.boolean('Sample CPU, memory, event loop and GC', { default: true }),
  ENABLE_PERFORMANCE_ALERTS: env.boolean('Log performance alerts', { default: false }),
  REDIS_URL: env.url('Redis connection for queue, limiter and stores', {
    default: 'redis://127.0.0.1:6379',
    protocols: ['redis:', 'rediss:'],
    secret: true,
  }),
  QUEUE_CONCURRENCY: env.integer('Jobs processed at once per processor', { default: 5, min: 1, max: 10_000 }),
  MAX_RETRY_ATTEMPTS: env.integer('Attempts per job, the first included', { default: 3, min: 1, max: 1_000 }),
  EMAIL_PROVIDER: env.oneOf('Email provider', ['smtp', 'sendgrid', 'ses', 'mailgun', 'dev'] as const, { default: 'dev' }),
  SMTP_HOST: env.string('SMTP server host', { default: '127.0.0.1' }),
  SMTP_PORT: env.integer('SMTP server port', { default: 587, min: 1, max: 65_535 }),
  SENDGRID_API_KEY: env.string('SendGrid API key', { secret: true }),
  AWS_SES_REGION: env.string('AWS region of SES'),
  ENABLE_PROMPT_OPTIMIZATION: env.boolean('Run prompt experiments', { default: true }),
  AI_QUALITY_THRESHOLD: env.number('Quality an arm must reach to be promoted', { default: 0.7, min: 0, max: 1 }),
  OPTIMIZATION_SAMPLE_SIZE: env.integer('Outcomes per arm before allocation adapts', { default: 10, min: 1 }),
} as const;

/** A known environment variable name. */
export type UxFlowEnvName = keyof typeof UX_FLOW_ENV;

/**
 * The resolved configuration: one typed field per variable in {@link UX_FLOW_ENV}. Fields
 * without a default are `undefined` when unset.
 */
export type UxFlowConfig = {
  [K in UxFlowEnvName]: (typeof UX_FLOW_ENV)[K] extends EnvVarSpec<infer T, infer D> ? (undefined extends D ? T | undefined : T) : never;
};

/** Where {@link loadConfig} and {@link configValue} read from. */
export interface ConfigSource {
  /** Explicit values; they win over the environment. */
  overrides?: Partial<UxFlowConfig>;
  /** The environment. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Resolves one setting: explicit value, else the environment variable, else the default.
 * An empty variable counts as unset. A malformed one throws a {@link ValidationError} naming it.
 *
 * @example
 * ```ts
 * const concurrency = configValue('QUEUE_CONCURRENCY', options.concurrency); // option > env > 5
 * ```
 */
export function configValue<K extends UxFlowEnvName>(
  name: K,
  explicit?: UxFlowConfig[K],
  source: Readonly<Record<string, string | undefined>> = process.env,
): UxFlowConfig[K] {
  if (explicit !== undefined) return explicit;
  return readEnv(name, UX_FLOW_ENV[name] as EnvVarSpec<unknown>, source) as UxFlowConfig[K];
}

/**
 * Reads one variable with any spec (also for variables a block defines itself).
 * Returns the spec's default when unset or empty.
 *
 * @example
 * ```ts
 * const port = readEnv('PORT', env.integer('HTTP port', { default: 3000, min: 1, max: 65535 }));
 * ```
 */
export function readEnv<T, D extends T | undefined>(
  name: string,
  varSpec: EnvVarSpec<T, D>,
  source: Readonly<Record<string, string | undefined>> = process.env,
): T | D {
  const raw = source[name];
  if (raw === undefined || raw.trim() === '') return varSpec.default;
  return varSpec.parse(raw, name);
}

/**
 * Reads and validates every variable in {@link UX_FLOW_ENV} at once, so a service can fail at
 * start-up on any malformed value. Explicit overrides win over the environment.
 *
 * @example
 * ```ts
 * const config = loadConfig({ overrides: { QUEUE_CONCURRENCY: 20 } });
 * config.TRACE_SAMPLE_RATE; // number, 0.1 unless TRACE_SAMPLE_RATE is set
 * ```
 */
export function loadConfig(source: ConfigSource = {}): UxFlowConfig {
  const environment = source.env ?? process.env;
  const overrides: Partial<Record<UxFlowEnvName, unknown>> = source.overrides ?? {};
  const out: Partial<Record<UxFlowEnvName, unknown>> = {};
  for (const name of Object.keys(UX_FLOW_ENV) as UxFlowEnvName[]) {
    const explicit = overrides[name];
    out[name] = explicit !== undefined ? explicit : readEnv(name, UX_FLOW_ENV[name] as EnvVarSpec<unknown>, environment);
  }
  return out as UxFlowConfig;
}
