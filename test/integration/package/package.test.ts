import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};
const subpaths = Object.keys(manifest.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? '@ux-flow/common' : `@ux-flow/common/${key.slice(2)}`));

let scratch: string;
let tarball: string;

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: scratch, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'uxflow-pack-'));
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' })) as {
    filename: string;
  }[];
  tarball = join(scratch, (packed[0] as { filename: string }).filename);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  // Required dependencies and non-optional peers only: npm installs those, never optional peers.
  // TypeScript and Node's types come along for the type check below; no framework types do.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', tarball, 'typescript@5.9', '@types/node@20'], {
    cwd: scratch,
    stdio: 'ignore',
  });
}, 240_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships only dist, README and the manifest', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(files.every((file) => /^package\/(dist\/|README\.md$|package\.json$|CHANGELOG\.md$|LICENSE$)/.test(file))).toBe(true);
    expect(files).toContain('package/dist/index.js');
    expect(files.some((file) => file.startsWith('package/src/') || file.startsWith('package/test/'))).toBe(false);
  });

  it('installs no optional peer', () => {
    for (const name of Object.keys(manifest.peerDependenciesMeta ?? {})) {
      if (manifest.peerDependenciesMeta?.[name]?.optional !== true) continue;
      expect(() => node(['-e', `require.resolve(${JSON.stringify(name)})`]), name).toThrow();
    }
  });

  it.each(subpaths)('%s loads in ESM and exports something', (subpath) => {
    const out = node(['--input-type=module', '-e', `const m = await import(${JSON.stringify(subpath)}); console.log(Object.keys(m).length);`]);
    expect(Number(out.trim())).toBeGreaterThan(0);
  });

  it.each(subpaths)('%s loads in CommonJS and exports the same names', (subpath) => {
    const cjs = node(['-e', `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(subpath)})).sort()))`]);
    const esm = node(['--input-type=module', '-e', `console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(subpath)})).filter((k) => k !== 'default').sort()))`]);
    expect(JSON.parse(cjs)).toEqual(JSON.parse(esm));
  });

  it('classes are shared between entries, so instanceof agrees across subpaths', () => {
    const esm = node([
      '--input-type=module',
      '-e',
      "const a = await import('@ux-flow/common'); const b = await import('@ux-flow/common/core'); console.log(a.ValidationError === b.ValidationError);",
    ]);
    const cjs = node(['-e', "console.log(require('@ux-flow/common').UxFlowError === require('@ux-flow/common/core').UxFlowError)"]);
    expect([esm.trim(), cjs.trim()]).toEqual(['true', 'true']);
  });

  it('errors from the ESM and CJS builds recognise each other through the Symbol.for marker', () => {
    const out = node([
      '--input-type=module',
      '-e',
      "import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/x.js'); const esm = await import('@ux-flow/common/core'); const cjs = require('@ux-flow/common/core'); const e = new cjs.ValidationError('f', 'bad'); console.log(e instanceof esm.ValidationError, esm.ValidationError.isInstance(e));",
    ]);
    expect(out.trim()).toBe('false true');
  });

  it('the published types compile with skipLibCheck off and no Express or Fastify types installed', () => {
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
        include: ['check.ts'],
      }),
    );
    const imports = subpaths.map((subpath, i) => `import * as m${i} from ${JSON.stringify(subpath)};\nvoid m${i};`).join('\n');
    writeFileSync(join(scratch, 'check.ts'), `${imports}\n`);
    expect(() => node([join(scratch, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', scratch])).not.toThrow();
    expect(() => node(['-e', "require.resolve('@types/express/package.json')"])).toThrow();
  });

  it('the built rate limiter runs its bundled Lua against the real Redis', () => {
    const script = `
      const { Redis } = require('ioredis');
      const { RedisRateLimiter } = require('@ux-flow/common/core');
      const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
      const name = 'pkgtest-' + process.pid;
      const limiter = new RedisRateLimiter({ redis, name, prefix: 'test:package', rules: { limit: 2, windowMs: 60000 } });
      (async () => {
        const answers = [];
        for (let i = 0; i < 3; i++) answers.push((await limiter.consume('k')).allowed);
        await limiter.reset('k');
        console.log(JSON.stringify(answers));
        await redis.quit();
      })();`;
    expect(node(['-e', script]).trim()).toBe('[true,true,false]');
  });
});
