/**
 * globalSetup of the `e2e` project: builds the package once (unless dist is newer than src) and
 * snapshots it to node_modules/.cache/ux-flow-e2e, with a tsconfig whose `paths` point
 * `@ux-flow/common` there. Example services run from that snapshot, so another test rebuilding
 * dist (tsup cleans it first) cannot pull the files from under a running service.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_DIR, ROOT } from './e2e-process.js';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const dist = join(ROOT, 'dist');
  const fresh = existsSync(join(dist, 'index.js')) && statSync(join(dist, 'index.js')).mtimeMs > newestMtime(join(ROOT, 'src'));
  if (!fresh) {
    try {
      execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
    } catch (error) {
      const output = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`e2e: npm run build failed:\n${String(output.stdout ?? '').slice(-2000)}\n${String(output.stderr ?? '').slice(-2000)}`);
    }
  }
  rmSync(E2E_DIR, { recursive: true, force: true });
  mkdirSync(E2E_DIR, { recursive: true });
  cpSync(dist, join(E2E_DIR, 'dist'), { recursive: true });
  writeFileSync(
    join(E2E_DIR, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        baseUrl: '.',
        paths: { '@ux-flow/common': ['./dist/index.js'], '@ux-flow/common/*': ['./dist/*/index.js'] },
      },
    }),
  );
}
