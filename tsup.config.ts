import { defineConfig } from 'tsup';

/** One entry per public subpath; shared code is split into chunks so classes exist once. */
export const entries = {
  index: 'src/index.ts',
  'core/index': 'src/core/index.ts',
  'auth/index': 'src/auth/index.ts',
  'monitoring/index': 'src/monitoring/index.ts',
  'queue/index': 'src/queue/index.ts',
  'communication/index': 'src/communication/index.ts',
  'ai/index': 'src/ai/index.ts',
  'testing/index': 'src/testing/index.ts',
} satisfies Record<string, string>;

export default defineConfig({
  entry: entries,
  format: ['esm', 'cjs'],
  dts: true,
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  tsconfig: 'tsconfig.build.json',
  loader: { '.lua': 'text' },
  shims: true,
  outDir: 'dist',
});
