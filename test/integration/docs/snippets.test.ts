import { describe, expect, it } from 'vitest';
import { allSnippets, extractSnippets, typeCheckSnippets } from '../../helpers/docs-snippets.js';

describe('code snippets of README.md and docs/**/*.md', () => {
  it('finds the ts blocks, their lines and the ignore flag', () => {
    const text = ['# T', '```ts', 'const a = 1;', '```', '```sh', 'npm i', '```', '```ts ignore', 'foo(', '```'].join('\n');
    expect(extractSnippets('x.md', text)).toEqual([
      { file: 'x.md', line: 3, code: 'const a = 1;', ignored: false },
      { file: 'x.md', line: 9, code: 'foo(', ignored: true },
    ]);
  });

  it('reports a wrong snippet at its Markdown line', () => {
    const errors = typeCheckSnippets([
      { file: 'bad.md', line: 10, code: "import { retry } from '@ux-flow/common/core';\nawait retry(() => 1, { attempts: 'three' });", ignored: false },
    ]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ file: 'bad.md', line: 11 });
  }, 120_000);

  it('type-check against the package, except the few marked ignore', () => {
    const snippets = allSnippets();
    const checked = snippets.filter((s) => !s.ignored);
    expect(checked.length).toBeGreaterThanOrEqual(20);
    // Fragments stay rare: at most one in ten blocks.
    expect(snippets.length - checked.length).toBeLessThanOrEqual(Math.ceil(snippets.length / 10));
    const errors = typeCheckSnippets(checked).map((e) => `${e.file}:${e.line}: ${e.message}`);
    expect(errors).toEqual([]);
  }, 120_000);
});
