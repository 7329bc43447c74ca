import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vitest/config';

/** Bundles `.lua` files as strings, as tsup's text loader does for the published build. */
const luaText: Plugin = {
  name: 'lua-text',
  load(id) {
    if (!id.endsWith('.lua')) return null;
    return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
  },
};

export default defineConfig({
  plugins: [luaText],
  test: {
    projects: [
      {
        plugins: [luaText],
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Source errors are reported by `npm run typecheck`; here only the type assertions count.
          typecheck: { enabled: true, include: ['test/types/**/*.test-d.ts'], tsconfig: './tsconfig.json', ignoreSourceErrors: true },
        },
      },
      {
        plugins: [luaText],
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [luaText],
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/helpers/e2e-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
