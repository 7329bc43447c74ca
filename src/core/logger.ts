/**
 * One logging method, pino style: `log(obj, msg)`, `log(msg)` or `log(error, msg)`.
 * Extra arguments are interpolation values, as in pino.
 */
export interface LogFn {
  (obj: object, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}

/**
 * The logger every block accepts: the pino interface, so a `pino()` instance, a pino child or
 * any compatible logger (bunyan-like `child`) can be passed as it is.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const queue = initializeMessageQueue(redis, pino({ level: 'info' }));
 * ```
 */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

/** Log levels in increasing severity, with pino's numeric values. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

/** A level name; `silent` logs nothing. */
export type LogLevel = keyof typeof LOG_LEVELS | 'silent';

const noop: LogFn = () => undefined;

const SILENT: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => SILENT,
};

/**
 * A logger that discards everything. The default of every block, so a library never writes to
 * a service's stdout uninvited.
 *
 * @example
 * ```ts
 * const limiter = new RedisRateLimiter({ redis, limit: 10, windowMs: 1000, logger: createSilentLogger() });
 * ```
 */
export function createSilentLogger(): Logger {
  return SILENT;
}

/** Options for {@link createConsoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Lowest level written. Default `'info'`. */
  level?: LogLevel;
  /** Fields added to every line. Default none. */
  bindings?: Record<string, unknown>;
  /** Where lines go. Default `process.stdout.write` (one JSON object per line). */
  write?: (line: string) => void;
  /** Clock for the `time` field. Default `Date.now`. */
  now?: () => number;
}

/**
 * A dependency-free logger writing one JSON line per call, with pino's field names (`level`
 * as a number, `time` in epoch ms, `msg`, errors under `err`), so log shippers treat it as pino.
 * Meant for development and examples; pass pino itself in production.
 *
 * @example
 * ```ts
 * const logger = createConsoleLogger({ level: 'debug', bindings: { service: 'flow-api' } });
 * logger.info({ jobId: '42' }, 'job done');
 * // {"level":30,"time":1764215319000,"service":"flow-api","jobId":"42","msg":"job done"}
 * ```
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (level !== 'silent' && !(level in LOG_LEVELS)) {
    throw new TypeError(`"level" must be one of ${Object.keys(LOG_LEVELS).join(', ')}, silent`);
  }
  const threshold = level === 'silent' ? Infinity : LOG_LEVELS[level];
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? Date.now;

  const build = (bindings: Record<string, unknown>): Logger => {
    const method =
      (name: keyof typeof LOG_LEVELS): LogFn =>
      (first: unknown, ...rest: unknown[]) => {
        const value = LOG_LEVELS[name];
        if (value < threshold) return;
        const line: Record<string, unknown> = { level: value, time: now(), ...bindings };
        let msgArgs: unknown[] = rest;
        if (typeof first === 'string') {
          msgArgs = [first, ...rest];
        } else if (first instanceof Error) {
          line['err'] = serializeError(first);
        } else if (first !== null && typeof first === 'object') {
          for (const [key, field] of Object.entries(first)) {
            line[key] = field instanceof Error ? serializeError(field) : field;
          }
        }
        const [msg, ...args] = msgArgs;
        if (typeof msg === 'string') line['msg'] = formatMessage(msg, args);
        else if (first instanceof Error) line['msg'] = first.message;
        write(`${safeStringify(line)}\n`);
      };
    return {
      trace: method('trace'),
      debug: method('debug'),
      info: method('info'),
      warn: method('warn'),
      error: method('error'),
      fatal: method('fatal'),
      child: (more) => build({ ...bindings, ...more }),
    };
  };
  return build({ ...options.bindings });
}

function serializeError(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack };
  const extra = error as unknown as Record<string, unknown>;
  if (extra['code'] !== undefined) out['code'] = extra['code'];
  if (extra['details'] !== undefined) out['details'] = extra['details'];
  if (error.cause instanceof Error) out['cause'] = serializeError(error.cause);
  return out;
}

/** pino's printf subset: %s %d %o %O %j, and %% for a literal percent. */
function formatMessage(msg: string, args: unknown[]): string {
  if (args.length === 0) return msg;
  let index = 0;
  return msg.replace(/%([sdifjoO%])/g, (token, kind: string) => {
    if (kind === '%') return '%';
    if (index >= args.length) return token;
    const arg = args[index++];
    if (kind === 'd' || kind === 'i' || kind === 'f') return String(Number(arg));
    if (kind === 's') return String(arg);
    return safeStringify(arg);
  });
}

function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, field: unknown) => {
    if (typeof field === 'bigint') return field.toString();
    if (field !== null && typeof field === 'object') {
      if (seen.has(field)) return '[Circular]';
      seen.add(field);
    }
    return field;
  });
}
