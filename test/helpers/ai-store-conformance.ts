import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PromptStore } from '../../src/ai/prompt-store.js';
import type { PromptExperiment, TemplateVersion } from '../../src/ai/types.js';

/** The behaviour every PromptStore must share (bullmq-style adapter suite). */
export function describePromptStoreConformance(
  driver: string,
  create: () => Promise<{ store: PromptStore; cleanup: () => Promise<void> }>,
): void {
  describe(`PromptStore conformance: ${driver}`, () => {
    let store: PromptStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await create());
    });
    afterEach(async () => {
      await cleanup();
    });

    const runningExperiment = (overrides: Partial<PromptExperiment> & { id: string }): PromptExperiment => ({
      arms: ['control', 'a'],
      retired: [],
      strategy: 'thompson',
      metric: 'quality',
      label: 'production',
      controlVersion: 1,
      status: 'running',
      startedAt: 1,
      ...overrides,
    });
    const version = (text: string): Omit<TemplateVersion, 'version'> => ({
      name: 't',
      template: text,
      variables: { x: { type: 'string', required: true } },
      tags: [],
      createdAt: 1,
      source: 'manual',
    });

    it('numbers versions from 1 and moves latest and the given labels', async () => {
      expect(await store.createVersion('t', version('a {{x}}'), ['production'])).toBe(1);
      expect(await store.createVersion('t', version('b {{x}}'), ['staging'])).toBe(2);
      expect(await store.getLabels('t')).toEqual({ latest: 2, production: 1, staging: 2 });
      expect((await store.getVersion('t', 1))?.template).toBe('a {{x}}');
      expect((await store.getVersion('t', 2))?.version).toBe(2);
      expect(await store.getVersion('t', 3)).toBeUndefined();
      expect((await store.listVersions('t')).map((v) => v.version)).toEqual([1, 2]);
      expect(await store.listTemplates()).toContain('t');
    });

    it('moves a label only to an existing version', async () => {
      await store.createVersion('t', version('a'), []);
      await store.createVersion('t', version('b'), []);
      expect(await store.setLabel('t', 'production', 2)).toBe(true);
      expect(await store.setLabel('t', 'production', 9)).toBe(false);
      expect((await store.getLabels('t'))['production']).toBe(2);
    });

    it('keeps variations immutable: a second add with the same id is refused', async () => {
      const variation = { id: 'v1', template: 'x {{x}}', source: 'manual', baseVersion: 1, createdAt: 1 };
      expect(await store.addVariation('t', variation)).toBe(true);
      expect(await store.addVariation('t', { ...variation, template: 'other' })).toBe(false);
      expect((await store.getVariations('t'))['v1']?.template).toBe('x {{x}}');
    });

    it('adds outcomes to global and per-context statistics', async () => {
      await store.recordOutcomes('t', [
        { scope: 'e1', arm: 'a', context: 'billing', delta: { n: 1, st: 1, s: 1, qc: 1, qs: 0.5, qq: 0.25, 'score.clarity.count': 1, 'score.clarity.sum': 0.5 }, latencyMs: 120 },
        { scope: 'e1', arm: 'a', delta: { n: 1, st: 1, s: 0, tk: 30, cu: 0.01 }, latencyMs: 80 },
        { scope: 'e1', arm: 'b', context: 'tech', delta: { n: 1, st: 1, s: 1 } },
      ]);
      const stats = await store.getStats('t', 'e1');
      expect(stats.global['a']).toMatchObject({ outcomes: 2, successTrials: 2, successes: 1, qualityCount: 1, qualitySum: 0.5, tokens: 30 });
      expect(stats.global['a']?.costUsd).toBeCloseTo(0.01);
      expect(stats.global['a']?.scores).toEqual({ clarity: { count: 1, sum: 0.5 } });
      expect(stats.contexts['billing']?.['a']).toMatchObject({ outcomes: 1, successes: 1 });
      expect(stats.contexts['tech']?.['b']).toMatchObject({ outcomes: 1 });
      expect(stats.contexts['billing']?.['b']).toBeUndefined();
      expect(await store.getLatencies('t', 'e1', 'a')).toEqual([80, 120]);
      expect((await store.getStats('t', 'other')).global).toEqual({});
    });

    it('keeps only the best-scored examples, best first', async () => {
      const writes = [0.2, 0.9, 0.5].map((quality, i) => ({
        scope: 'versions',
        arm: 'v1',
        delta: { n: 1 },
        example: { input: `in${i}`, output: `out${i}`, quality },
      }));
      await store.recordOutcomes('t', writes);
      expect((await store.getExamples('t', 'versions', 2)).map((e) => e.quality)).toEqual([0.9, 0.5]);
    });

    it('keeps the first sticky assignment of a subject', async () => {
      expect(await store.getAssignment('t', 'e1', 'user-1')).toBeUndefined();
      expect(await store.assign('t', 'e1', 'user-1', 'a')).toBe('a');
      expect(await store.assign('t', 'e1', 'user-1', 'b')).toBe('a');
      expect(await store.getAssignment('t', 'e1', 'user-1')).toBe('a');
      expect(await store.assign('t', 'e2', 'user-1', 'b')).toBe('b');
      expect(await store.assign('t', 'e1', 'user-1', 'c', ['b', 'c'])).toBe('c');
      expect(await store.assign('t', 'e1', 'user-1', 'b', ['b', 'c'])).toBe('c');
    });

    it('stores the experiment and the decision history in order', async () => {
      const experiment = runningExperiment({ id: 'e1', metric: 'success', startedAt: 5 });
      await store.putExperiment('t', experiment);
      expect(await store.getExperiment('t')).toEqual(experiment);
      await store.appendHistory('t', { at: 1, experimentId: 'e1', type: 'started', reason: 'a' });
      await store.appendHistory('t', { at: 2, experimentId: 'e1', type: 'retired', arm: 'a', reason: 'b' });
      expect((await store.getHistory('t')).map((h) => h.type)).toEqual(['started', 'retired']);
      await store.createVersion('t', version('a {{x}}'), ['production']);
      const state = await store.getState('t');
      expect(state.experiment?.id).toBe('e1');
      expect(state.labels['production']).toBe(1);
    });

    it('replaces a running experiment only when it is still the one read', async () => {
      const running = runningExperiment({ id: 'e1' });
      expect(await store.updateRunningExperiment('t', 'e1', { ...running, retired: ['a'] })).toBe(false);
      expect(await store.putExperiment('t', running)).toBe(true);
      expect(await store.updateRunningExperiment('t', 'e0', { ...running, status: 'stopped' })).toBe(false);
      expect(await store.updateRunningExperiment('t', 'e1', { ...running, status: 'completed', winner: 'a' })).toBe(true);
      expect(await store.updateRunningExperiment('t', 'e1', { ...running, status: 'stopped' })).toBe(false);
      expect(await store.getExperiment('t')).toMatchObject({ status: 'completed', winner: 'a' });
    });

    it('starts an experiment only while none is running, so concurrent starts have one winner', async () => {
      const base = runningExperiment({ id: 'x' });
      const results = await Promise.all(['s1', 's2', 's3'].map((id) => store.putExperiment('t', { ...base, id })));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = await store.getExperiment('t');
      expect(['s1', 's2', 's3'][results.indexOf(true)]).toBe(winner?.id);
      expect(await store.updateRunningExperiment('t', winner?.id ?? '', { ...base, id: winner?.id ?? '', status: 'stopped' })).toBe(true);
      expect(await store.putExperiment('t', { ...base, id: 's4' })).toBe(true);
      expect((await store.getExperiment('t'))?.id).toBe('s4');
    });

    it('returns copies: mutating a result does not change the store', async () => {
      await store.createVersion('t', version('a'), []);
      const v = await store.getVersion('t', 1);
      if (v !== undefined) v.template = 'changed';
      expect((await store.getVersion('t', 1))?.template).toBe('a');
    });
  });
}
