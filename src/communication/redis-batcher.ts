import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../core/redis-connection.js';

/** The single commands a send issues (suppression lookup, caps, idempotency keys). */
const BATCHED: ReadonlySet<string> = new Set(['evalsha', 'eval', 'hmget', 'set', 'get', 'del']);

/** One reply of a pipeline: its error or its value. */
export type PipelineReply = [error: Error | null, value: unknown];

/** A queued single command (`name`, `args`), or commands that `build` appends when the pipeline goes out. */
interface Queued {
  name: string;
  args: readonly unknown[];
  build: ((pipeline: ChainableCommander) => number) | undefined;
  /** A single command gets its reply; a `build` entry gets all of its replies. */
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Command = (...args: unknown[]) => Promise<unknown>;
/** A pipeline's method: queues the command, returns the pipeline. */
type Append = (...args: unknown[]) => ChainableCommander;

const batchers = new WeakMap<object, RedisBatcher>();

/**
 * Sends the email state commands of many concurrent sends as few pipelines: commands queue until
 * the event loop has handled the I/O at hand (`setImmediate`), and while a pipeline is out the
 * next one gathers, so there is one write and one read per round trip instead of one per command
 * (and per message: a suppression `HMGET`, one `EVALSHA` per cap rule set, the sent record).
 * This is what ioredis's `enableAutoPipelining` does, kept to the email service's own commands so
 * that a client passed in keeps its options for everything else.
 *
 * Each caller gets the reply or error its command would have had on its own (`NOSCRIPT`
 * included); commands run in the order they were queued. A command may wait for the round trip
 * before it, at most. Not used for a Cluster client: a pipeline must stay on one slot, and the
 * caps' keys span several.
 *
 * @example
 * ```ts
 * const batcher = RedisBatcher.for(redis);
 * const limiter = new RedisRateLimiter({ redis: batcher?.client ?? redis, name: 'email-domain', rules });
 * ```
 */
export class RedisBatcher {
  /**
   * The client with `EVALSHA`, `EVAL`, `HMGET`, `SET`, `GET` and `DEL` going through the batcher
   * (promise style); every other command and property is the client's own.
   */
  readonly client: RedisClient;
  private queue: Queued[] = [];
  private scheduled = false;
  private inFlight = false;

  private constructor(private readonly target: RedisClient) {
    const direct = target as unknown as Record<string, Command>;
    const batched = new Map<string, Command>();
    for (const name of BATCHED) {
      const plain = direct[name] as Command;
      batched.set(name, (...args: unknown[]) => {
        // Callback style stays with ioredis.
        if (typeof args.at(-1) === 'function') return plain.apply(target, args);
        return this.command(name, args);
      });
    }
    this.client = new Proxy(target, {
      get(client, property) {
        const own = typeof property === 'string' ? batched.get(property) : undefined;
        if (own !== undefined) return own;
        const value: unknown = Reflect.get(client, property, client);
        return typeof value === 'function' ? (value as Command).bind(client) : value;
      },
    });
  }

  /** The batcher of a single-node client (one per client), or `undefined` for a Cluster. */
  static for(client: RedisClient): RedisBatcher | undefined {
    if ((client as { isCluster?: unknown }).isCluster !== false) return undefined;
    let batcher = batchers.get(client);
    if (batcher === undefined) {
      batcher = new RedisBatcher(client);
      batchers.set(client, batcher);
    }
    return batcher;
  }

  /** Queues one command; resolves with its reply, rejects with its error. */
  command(name: string, args: readonly unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => this.enqueue({ name, args, build: undefined, resolve, reject }));
  }

  /**
   * Queues the commands that `build` appends to a pipeline when it is sent (so it may gather
   * what arrived until then); `build` returns how many it appended. Resolves with their replies
   * in order (an error in its slot), rejects when the pipeline as a whole failed.
   */
  pipeline(build: (pipeline: ChainableCommander) => number): Promise<PipelineReply[]> {
    return new Promise((resolve, reject) => this.enqueue({ name: '', args: [], build, resolve: resolve as (value: unknown) => void, reject }));
  }

  private enqueue(entry: Queued): void {
    this.queue.push(entry);
    if (!this.scheduled && !this.inFlight) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.inFlight = true;
    const only = batch.length === 1 ? (batch[0] as Queued) : undefined;
    if (only !== undefined && only.build === undefined) {
      // A batch of one is the plain command.
      ((this.target as unknown as Record<string, Command>)[only.name] as Command).apply(this.target, only.args as unknown[]).then(
        (value) => {
          only.resolve(value);
          this.done();
        },
        (error: unknown) => {
          only.reject(error);
          this.done();
        },
      );
      return;
    }
    const counts: number[] = [];
    let replies: Promise<PipelineReply[] | null>;
    try {
      const pipeline = this.target.pipeline();
      for (const entry of batch) {
        if (entry.build === undefined) {
          ((pipeline as unknown as Record<string, Append>)[entry.name] as Append).apply(pipeline, entry.args as unknown[]);
          counts.push(1);
        } else {
          counts.push(entry.build(pipeline));
        }
      }
      replies = pipeline.exec();
    } catch (error) {
      this.failed(batch, error);
      return;
    }
    replies.then(
      (results) => {
        let offset = 0;
        batch.forEach((entry, index) => {
          const count = counts[index] as number;
          if (entry.build === undefined) {
            const [error, value] = results?.[offset] ?? [new Error('no reply from Redis'), undefined];
            if (error === null) entry.resolve(value);
            else entry.reject(error);
          } else {
            const own: PipelineReply[] = (results ?? []).slice(offset, offset + count);
            while (own.length < count) own.push([new Error('no reply from Redis'), undefined]);
            entry.resolve(own);
          }
          offset += count;
        });
        this.done();
      },
      (error: unknown) => this.failed(batch, error),
    );
  };

  private failed(batch: readonly Queued[], error: unknown): void {
    for (const entry of batch) entry.reject(error);
    this.done();
  }

  /** The round trip is over: what gathered meanwhile goes at once. */
  private done(): void {
    this.inFlight = false;
    if (this.queue.length > 0) this.flush();
  }
}
