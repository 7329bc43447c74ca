/**
 * Lets a plain `node --import tsx` child process import the queue source, whose Lua scripts are
 * `.lua` files imported as text (tsup and vitest do this for the build and the tests).
 * Use: `node --import tsx --import ./test/helpers/queue-lua-loader.ts child.ts`.
 */
import { register } from 'node:module';

const hooks = `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function load(url, context, next) {
  if (url.endsWith('.lua')) {
    return { format: 'module', shortCircuit: true, source: 'export default ' + JSON.stringify(readFileSync(fileURLToPath(url), 'utf8')) };
  }
  return next(url, context);
}`;

register(`data:text/javascript,${encodeURIComponent(hooks)}`);
