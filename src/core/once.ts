/**
 * Wraps an async operation so it runs at most once: every later call returns the first call's
 * promise. For idempotent `close()`/`shutdown()` (OpenTelemetry's `BindOnceFuture`).
 *
 * @example
 * ```ts
 * class Worker {
 *   readonly close = once(async () => { await this.drain(); await this.redis.quit(); });
 * }
 * await Promise.all([worker.close(), worker.close()]); // drains once
 * ```
 */
export function once<T>(operation: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= Promise.resolve().then(operation);
    return pending;
  };
}
