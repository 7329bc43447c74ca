import { describe, expect, it } from 'vitest';
import { isInstalled, loadOptional, MissingDependencyError } from '../../../src/core/index.js';

describe('loadOptional', () => {
  it('returns the module when it is installed', async () => {
    const mod = await loadOptional('ioredis', 'The queue', () => import('ioredis'));
    expect(typeof mod.Redis).toBe('function');
  });

  it('throws MissingDependencyError naming the package when it is not installed', async () => {
    const name = 'ux-flow-definitely-not-installed';
    const error = await loadOptional(name, 'The test feature', () => import(/* @vite-ignore */ name)).catch((e: unknown) => e);
    expect(MissingDependencyError.isInstance(error)).toBe(true);
    expect((error as MissingDependencyError).packageName).toBe(name);
    expect((error as Error).message).toBe(`The test feature needs "${name}". Install it: npm install ${name}`);
  });

  it('rethrows other loading failures as they are', async () => {
    const broken = new SyntaxError('Unexpected token in the installed package');
    await expect(loadOptional('pkg', 'x', () => Promise.reject(broken))).rejects.toBe(broken);
  });

  it('a missing dependency of the package is not reported as the package missing', async () => {
    const inner = Object.assign(new Error("Cannot find package 'left-pad' imported from /node_modules/pkg/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(loadOptional('pkg', 'x', () => Promise.reject(inner))).rejects.toBe(inner);
  });
});

describe('isInstalled', () => {
  it('tells installed from missing packages without loading them', () => {
    expect(isInstalled('jose')).toBe(true);
    expect(isInstalled('ux-flow-definitely-not-installed')).toBe(false);
  });
});
