import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The shared Redis that runs before the session and before CI. */
export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A unique key prefix for one test file: `test:<name>:<random>`. */
export function testPrefix(name: string): string {
  return `test:${name}:${randomBytes(4).toString('hex')}`;
}

/** Deletes every key starting with `prefix` (SCAN + UNLINK), and only those. */
export async function deleteKeys(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** A client on the shared Redis; the caller quits it. */
export function connectShared(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
}

/** `CLIENT KILL`s every connection named `connectionName` (`CLIENT SETNAME`); returns how many. */
export async function killConnectionsNamed(admin: Redis, connectionName: string): Promise<number> {
  const ids = String(await admin.client('LIST'))
    .split('\n')
    .filter((line) => line.includes(` name=${connectionName} `))
    .map((line) => /id=(\d+)/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  for (const id of ids) await admin.client('KILL', 'ID', id);
  return ids.length;
}
