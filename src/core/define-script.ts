import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-connection.js';
import { ValidationError } from './validation-error.js';

/** Anything a script argument may be; numbers are sent as their decimal string. */
export type ScriptArg = string | number | Buffer;

/** A Lua script with a fixed number of keys, run with `EVALSHA` and loaded on demand. */
export interface RedisScript {
  /** Names the script in errors. */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** SHA1 of the source, as Redis computes it. */
  readonly sha: string;
  /** How many of the arguments are keys. */
  readonly numberOfKeys: number;
  /**
   * Runs the script: `EVALSHA`, and on `NOSCRIPT` (first use, or after a restart or failover)
   * `EVAL` once, which also caches it on that server.
   */
  run<T = unknown>(client: RedisClient, keys: readonly string[], args?: readonly ScriptArg[]): Promise<T>;
  /** Queues an `EVALSHA` on a pipeline; pair with {@link runPipeline} to survive `NOSCRIPT`. */
  queue(pipeline: ChainableCommander, keys: readonly string[], args?: readonly ScriptArg[]): void;
  /** `SCRIPT LOAD`s the source on every master (all nodes of a Cluster). */
  load(client: RedisClient): Promise<void>;
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Defines a Lua script once per process. Scripts are identified by SHA, so the same definition
 * serves any number of clients and survives server restarts.
 *
 * @example
 * ```ts
 * import source from './lua/sliding-window.lua';
 * const slidingWindow = defineScript('sliding-window', source, { numberOfKeys: 1 });
 * const [allowed] = await slidingWindow.run<[number]>(redis, [key], [now, windowMs, limit]);
 * ```
 */
export function defineScript(name: string, source: string, options: { numberOfKeys: number }): RedisScript {
  if (typeof source !== 'string' || source.trim() === '') throw new ValidationError('source', `of script "${name}" must be non-empty Lua`);
  if (!Number.isInteger(options.numberOfKeys) || options.numberOfKeys < 0) {
    throw new ValidationError('numberOfKeys', `of script "${name}" must be a non-negative integer`);
  }
  const sha = createHash('sha1').update(source).digest('hex');
  const { numberOfKeys } = options;

  const checkKeys = (keys: readonly string[]): void => {
    if (keys.length !== numberOfKeys) {
      throw new ValidationError('keys', `of script "${name}" must hold ${numberOfKeys} keys (got ${keys.length})`);
    }
  };

  return {
    name,
    source,
    sha,
    numberOfKeys,
    async run<T>(client: RedisClient, keys: readonly string[], args: readonly ScriptArg[] = []): Promise<T> {
      checkKeys(keys);
      try {
        return (await client.evalsha(sha, numberOfKeys, ...keys, ...args)) as T;
      } catch (error) {
        if (!isNoScript(error)) throw error;
        return (await client.eval(source, numberOfKeys, ...keys, ...args)) as T;
      }
    },
    queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly ScriptArg[] = []): void {
      checkKeys(keys);
      pipeline.evalsha(sha, numberOfKeys, ...keys, ...args);
    },
    async load(client: RedisClient): Promise<void> {
      const nodes = 'nodes' in client && typeof client.nodes === 'function' ? client.nodes('master') : [client];
      await Promise.all(nodes.map((node) => node.script('LOAD', source)));
    },
  };
}

/** One script call for {@link runPipeline}. */
export interface ScriptCall {
  script: RedisScript;
  keys: readonly string[];
  args?: readonly ScriptArg[];
}

/**
 * Runs many script calls in one round trip and returns their results in order. Calls that met
 * `NOSCRIPT` never ran, so they are sent again after loading their scripts; any other error is
 * returned in its slot as an `Error`, for the caller to handle per call.
 *
 * @example
 * ```ts
 * const results = await runPipeline(redis, jobs.map((job) => ({ script: addJob, keys, args: job.args })));
 * ```
 */
export async function runPipeline(client: RedisClient, calls: readonly ScriptCall[]): Promise<unknown[]> {
  if (calls.length === 0) return [];
  const send = async (batch: readonly ScriptCall[]): Promise<unknown[]> => {
    const pipeline = client.pipeline();
    for (const call of batch) call.script.queue(pipeline, call.keys, call.args);
    const replies = (await pipeline.exec()) ?? [];
    return batch.map((_, index) => {
      const [error, value] = replies[index] ?? [new Error('no reply from Redis'), undefined];
      return error ?? value;
    });
  };
  const results = await send(calls);
  const missing = results.flatMap((result, index) => (isNoScript(result) ? [index] : []));
  if (missing.length === 0) return results;
  const scripts = new Set(missing.map((index) => (calls[index] as ScriptCall).script));
  await Promise.all([...scripts].map((script) => script.load(client)));
  const retried = await send(missing.map((index) => calls[index] as ScriptCall));
  missing.forEach((index, position) => {
    results[index] = retried[position];
  });
  return results;
}
