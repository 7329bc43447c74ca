import { ValidationError } from './validation-error.js';

/**
 * Builds the Redis keys of one namespace (a queue, a limiter, a template store). The namespace is
 * wrapped in a hash tag, `prefix:{namespace}:…`, so all its keys live in one Cluster slot and a
 * Lua script may touch any of them; different namespaces spread across shards.
 *
 * @example
 * ```ts
 * const keys = new Keyspace('uxflow', 'queue:emails');
 * keys.key('wait'); // 'uxflow:{queue:emails}:wait'
 * keys.key('job', '42'); // 'uxflow:{queue:emails}:job:42'
 * ```
 */
export class Keyspace {
  /** `prefix:{namespace}`; every key starts with it. */
  readonly base: string;

  /**
   * @param prefix - the application prefix, default `'uxflow'`. No braces.
   * @param namespace - the tagged part. Non-empty, no braces.
   */
  constructor(
    readonly prefix: string,
    readonly namespace: string,
  ) {
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) throw new ValidationError('prefix', 'must be a string without { or }');
    if (typeof namespace !== 'string' || namespace === '' || /[{}]/.test(namespace)) {
      throw new ValidationError('namespace', 'must be a non-empty string without { or }');
    }
    this.base = prefix === '' ? `{${namespace}}` : `${prefix}:{${namespace}}`;
  }

  /** Joins parts after the base with `:`. */
  key(...parts: (string | number)[]): string {
    return parts.length === 0 ? this.base : `${this.base}:${parts.join(':')}`;
  }

  /** A `SCAN MATCH` pattern for every key of this namespace (glob characters escaped). */
  pattern(): string {
    return `${this.base.replace(/[*?[\]\\]/g, '\\$&')}*`;
  }
}
