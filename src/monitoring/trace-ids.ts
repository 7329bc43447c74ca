import { randomFillSync } from 'node:crypto';

// Ids are cut from a pool of random bytes refilled 8 KiB at a time: one hex conversion per id
// instead of the four `Math.random()` calls and buffer writes of the SDK's generator.
const POOL_BYTES = 8192;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;
const ZEROS = '0'.repeat(32);

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  // An all-zero id is invalid in W3C trace context; 2^-64 odds, but cheap to rule out.
  return id === ZEROS.slice(0, bytes * 2) ? randomHex(bytes) : id;
}

/**
 * A W3C trace id: 32 lowercase hex digits, random, never all zeros.
 *
 * @example
 * ```ts
 * randomTraceId(); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * ```
 */
export function randomTraceId(): string {
  return randomHex(16);
}

/**
 * A W3C span id: 16 lowercase hex digits, random, never all zeros.
 *
 * @example
 * ```ts
 * randomSpanId(); // '00f067aa0ba902b7'
 * ```
 */
export function randomSpanId(): string {
  return randomHex(8);
}
