/**
 * Runs the benchmarks in this folder one after another, each in its own process so they do not
 * disturb each other. `npm run bench` runs all; `npm run bench -- queue auth` runs the named ones
 * (`bench/<name>.bench.ts`). Each benchmark imports the built package (what users get), so
 * `npm run bench` builds first.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.slice(0, -'.bench.ts'.length))
  .sort();
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const unknown = wanted.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Available: ${available.join(', ')}`);
  process.exit(2);
}
const selected = wanted.length > 0 ? wanted : available;
let failed = 0;
for (const name of selected) {
  console.log(`\n=== ${name} ===`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(here, `${name}.bench.ts`)], {
    stdio: 'inherit',
    // The build tsconfig has no `paths`, so '@ux-flow/common/*' resolves to dist/ as for users.
    env: { ...process.env, TSX_TSCONFIG_PATH: join(here, '..', 'tsconfig.build.json') },
  });
  if (result.status !== 0) {
    failed++;
    console.error(`${name} exited with ${result.status ?? result.signal ?? 'unknown'}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
