/**
 * Test-owned `redis-server` processes on loopback (never the shared 6379): a single node with
 * AOF that can be killed and restarted, and a 3-master Cluster.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** True when `port` (and its Cluster bus port) can be bound on loopback. */
async function isFree(port: number): Promise<boolean> {
  const probe = (candidate: number): Promise<boolean> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => {
        resolve(false);
      });
      server.listen(candidate, '127.0.0.1', () => {
        server.close(() => {
          resolve(true);
        });
      });
    });
  return (await probe(port)) && (port + 10_000 > 65_535 || (await probe(port + 10_000)));
}

/** `count` consecutive free ports from `from` upward. */
export async function freePorts(count: number, from: number): Promise<number[]> {
  for (let base = from; base < from + 2_000; base += count) {
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const free = await Promise.all(ports.map(isFree));
    if (free.every(Boolean)) return ports;
  }
  throw new Error(`no ${count} free ports from ${from}`);
}

async function waitForPing(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch {
      client.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** One test-owned node. */
export interface TestRedisServer {
  port: number;
  /** SIGKILLs the server (no save), as a crash would. */
  crash(): Promise<void>;
  /** Starts it again on the same port and data directory (AOF replayed). */
  start(): Promise<void>;
  /** Stops it and deletes its data directory. */
  destroy(): Promise<void>;
}

/** Starts a `redis-server` on a free port with the given extra arguments. */
export async function startRedisServer(options: { port?: number; args?: string[] } = {}): Promise<TestRedisServer> {
  const port = options.port ?? (await freePorts(1, 16_400))[0]!;
  const dir = mkdtempSync(join(tmpdir(), `queue-redis-${port}-`));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...(options.args ?? [])], { stdio: 'ignore' });
    await waitForPing(port);
  };
  const crash = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    crash,
    start,
    destroy: async () => {
      await crash();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A 3-master Redis Cluster on consecutive free ports from 7000. */
export async function startRedisCluster(): Promise<{ ports: number[]; destroy(): Promise<void> }> {
  const ports = await freePorts(3, 7_000);
  const nodes = await Promise.all(
    ports.map((port) => startRedisServer({ port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--appendonly', 'no'] })),
  );
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) {
    await Promise.all(nodes.map((node) => node.destroy()));
    throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  }
  // Wait until every node agrees the cluster is up.
  const deadline = Date.now() + 20_000;
  for (const port of ports) {
    const client = new Redis({ port, host: '127.0.0.1' });
    while (!(await client.cluster('INFO')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    client.disconnect();
  }
  return {
    ports,
    destroy: async () => {
      await Promise.all(nodes.map((node) => node.destroy()));
    },
  };
}
