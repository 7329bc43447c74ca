import type { RedisClient } from '../core/redis-connection.js';
import { isRedisDown } from '../core/redis-unavailable-error.js';
import { EmailStateUnavailableError } from './email-state-unavailable-error.js';

/**
 * Runs `fn` against `client`, bounded: fails at once with {@link EmailStateUnavailableError}
 * when the connection is down or reconnecting (a command would sit in ioredis's offline queue),
 * and after `timeoutMs` when Redis does not answer. The timer is the wall clock on purpose: an
 * injected fake clock must not hold a send forever.
 */
export async function guardRedis<T>(client: RedisClient, timeoutMs: number, operation: string, fn: () => Promise<T>): Promise<T> {
  if (isRedisDown(client)) throw new EmailStateUnavailableError(operation, `the Redis connection is ${client.status}`);
  let timer: NodeJS.Timeout | undefined;
  const running = fn();
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new EmailStateUnavailableError(operation, `Redis did not answer within ${timeoutMs} ms (connection ${client.status})`));
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([running, expired]);
  } catch (error) {
    if (EmailStateUnavailableError.isInstance(error)) {
      running.catch(() => undefined); // settles later (or never); nobody waits for it any more
      throw error;
    }
    // ioredis gave up itself (maxRetriesPerRequest, connection closed): same meaning for callers.
    if (isConnectionError(error)) throw new EmailStateUnavailableError(operation, (error as Error).message, { cause: error });
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue/i.test(error.message)
  );
}
