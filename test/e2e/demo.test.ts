/** `npm run demo -- --once` with Redis unreachable: the in-memory drivers carry the whole scenario. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { E2E_DIR, ROOT } from '../helpers/e2e-process.js';

it('runs the demo scenario to a summary and exits 0 when Redis is unreachable', async () => {
  const outbox = await mkdtemp(join(tmpdir(), 'uxflow-demo-outbox-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'examples/demo.ts'), '--once'], {
      cwd: ROOT,
      env: { ...process.env, TSX_TSCONFIG_PATH: join(E2E_DIR, 'tsconfig.json'), REDIS_URL: 'redis://127.0.0.1:1', DEMO_PORT: '0', EMAIL_DEV_DIR: outbox, ENABLE_SYSTEM_METRICS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    expect(output).toContain('using the in-memory drivers');
    expect(output).toContain('Scenario OK.');
    expect(output).toMatch(/dead letter flow:\S+ \(ai_processing\) after 3 attempts/);
    expect(output).toContain('403 insufficient_scope');
    // Click tracking works without Redis too: the signed link redirects and the click is counted.
    expect(output).toMatch(/tracked link of an invitation .* … 302 to \/invitations\/accept\?workspace=w-acme/);
    expect(output).toContain('2 sent, 1 clicked');
    expect(code).toBe(0);
    expect((await readdir(outbox)).filter((name) => name.endsWith('.eml'))).toHaveLength(2);
  } finally {
    await rm(outbox, { recursive: true, force: true });
  }
}, 60_000);
