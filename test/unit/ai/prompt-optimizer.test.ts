import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalAdapter } from '../../../src/ai/llm/local-adapter.js';
import { MemoryPromptStore } from '../../../src/ai/memory-prompt-store.js';
import { PromptOptimizerError } from '../../../src/ai/prompt-optimizer-error.js';
import { initializePromptOptimizer, PromptOptimizer, type PromptOptimizerOptions } from '../../../src/ai/prompt-optimizer.js';
import { PromptTemplateError } from '../../../src/ai/prompt-template-error.js';
import { createSeededRandom } from '../../../src/ai/random.js';
import { variationRules } from '../../../src/ai/variation-rules.js';
import { createConsoleLogger } from '../../../src/core/logger.js';
import { ValidationError } from '../../../src/core/validation-error.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';

function make(options: PromptOptimizerOptions = {}): { optimizer: PromptOptimizer; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createConsoleLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const optimizer = new PromptOptimizer({ random: createSeededRandom(1), logger, sampleSize: 10, qualityThreshold: 0.7, ...options });
  return { optimizer, lines };
}

async function withSummarize(optimizer: PromptOptimizer): Promise<void> {
  await optimizer.registerTemplate('summarize', { template: 'Summarize: {{text}}', variables: ['text'] });
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('PromptOptimizer templates and labels', () => {
  it('numbers versions, labels the first production and keeps latest on the newest', async () => {
    const { optimizer } = make();
    expect(await optimizer.registerTemplate('t', { template: 'one {{x}}', variables: ['x'] })).toBe(1);
    expect(await optimizer.registerTemplate('t', { template: 'two {{x}}', variables: ['x'], labels: ['staging'] })).toBe(2);
    expect((await optimizer.getPrompt('t', { variables: { x: 'a' } })).prompt).toBe('one a');
    expect((await optimizer.getPrompt('t', { variables: { x: 'a' }, label: 'staging' })).prompt).toBe('two a');
    expect((await optimizer.getPrompt('t', { variables: { x: 'a' }, label: 'latest' })).prompt).toBe('two a');
    const pinned = await optimizer.getPrompt('t', { variables: { x: 'a' }, version: 1 });
    expect(pinned.selection).toMatchObject({ template: 't', version: 1, arm: 'v1' });
    await optimizer.setLabel('t', 'production', 2);
    expect((await optimizer.getPrompt('t', { variables: { x: 'a' } })).prompt).toBe('two a');
    await expect(optimizer.setLabel('t', 'latest', 1)).rejects.toThrow(ValidationError);
    await expect(optimizer.setLabel('t', 'production', 7)).rejects.toThrow(PromptOptimizerError);
  });

  it('registering unchanged content again keeps the latest version (restart-safe) but moves named labels', async () => {
    const { optimizer } = make();
    expect(await optimizer.registerTemplate('t', { template: 'one {{x}}', variables: ['x'] })).toBe(1);
    expect(await optimizer.registerTemplate('t', { template: 'one {{x}}', variables: ['x'] })).toBe(1);
    expect(await optimizer.registerTemplate('t', { template: 'one {{x}}', variables: ['x'], labels: ['staging'] })).toBe(1);
    expect((await optimizer.getPrompt('t', { variables: { x: 'a' }, label: 'staging' })).selection.version).toBe(1);
    // Any difference (content, variables, description, tags) is a new version.
    expect(await optimizer.registerTemplate('t', { template: 'one {{x}}', variables: ['x'], tags: ['v'] })).toBe(2);
    expect(await optimizer.registerTemplate('t', { template: 'one {{x}}', variables: ['x'], tags: ['v'], description: 'd' })).toBe(3);
    expect(await optimizer.registerTemplate('t', { template: 'one! {{x}}', variables: ['x'], tags: ['v'], description: 'd' })).toBe(4);
    expect(await optimizer.listVersions('t')).toHaveLength(4);
  });

  it('adding the same variation again returns the stored one; different content under the id throws', async () => {
    const { optimizer } = make();
    await optimizer.registerTemplate('t', { template: 'one {{x}}', variables: ['x'] });
    const first = await optimizer.addVariation('t', { id: 'short', template: 'short {{x}}' });
    expect(await optimizer.addVariation('t', { id: 'short', template: 'short {{x}}' })).toEqual(first);
    await expect(optimizer.addVariation('t', { id: 'short', template: 'other {{x}}' })).rejects.toThrow('already has a different variation "short"');
  });

  it('rejects unknown templates and labels, and names a missing or extra variable', async () => {
    const { optimizer } = make();
    await expect(optimizer.getPrompt('nope')).rejects.toThrow('Unknown prompt template "nope"');
    await withSummarize(optimizer);
    await expect(optimizer.getPrompt('summarize', { label: 'canary', variables: { text: 'x' } })).rejects.toThrow('no label "canary"');
    const missing = await optimizer.getPrompt('summarize', {}).catch((e: unknown) => e);
    expect(PromptTemplateError.isInstance(missing) && missing.variable).toBe('text');
    const extra = await optimizer.getPrompt('summarize', { variables: { text: 'a', tone: 'b' } }).catch((e: unknown) => e);
    expect(PromptTemplateError.isInstance(extra) && extra.variable).toBe('tone');
    await expect(optimizer.registerTemplate('bad', { template: '{{a}}', variables: [] })).rejects.toThrow('undeclared variable "a"');
  });

  it('renders chat templates', async () => {
    const { optimizer } = make();
    await optimizer.registerTemplate('chat', {
      messages: [
        { role: 'system', content: 'You answer about {{product}}.' },
        { role: 'user', content: '{{question}}' },
      ],
      variables: { product: 'string', question: 'string' },
    });
    const { messages } = await optimizer.getPrompt('chat', { variables: { product: 'Flow', question: 'Price?' } });
    expect(messages).toEqual([
      { role: 'system', content: 'You answer about Flow.' },
      { role: 'user', content: 'Price?' },
    ]);
  });

  it('reads OPTIMIZATION_SAMPLE_SIZE and AI_QUALITY_THRESHOLD, and names a malformed one', () => {
    vi.stubEnv('OPTIMIZATION_SAMPLE_SIZE', 'many');
    expect(() => new PromptOptimizer()).toThrow('"OPTIMIZATION_SAMPLE_SIZE" must be an integer');
    vi.stubEnv('OPTIMIZATION_SAMPLE_SIZE', '25');
    vi.stubEnv('AI_QUALITY_THRESHOLD', '2');
    expect(() => new PromptOptimizer()).toThrow('"AI_QUALITY_THRESHOLD" must be at most 1');
    expect(() => new PromptOptimizer({ minArmShare: 0.9 })).toThrow('"AI_QUALITY_THRESHOLD"');
    vi.stubEnv('AI_QUALITY_THRESHOLD', '0.8');
    expect(() => new PromptOptimizer({ minArmShare: 0.9 })).toThrow('"minArmShare"');
  });
});

describe('PromptOptimizer experiments', () => {
  async function experiment(optimizer: PromptOptimizer, options: Partial<Parameters<PromptOptimizer['startExperiment']>[1]> = {}) {
    await withSummarize(optimizer);
    await optimizer.addVariation('summarize', { id: 'bullets', template: 'Summarize in bullets: {{text}}' });
    await optimizer.addVariation('summarize', { id: 'short', template: 'TL;DR {{text}}' });
    return optimizer.startExperiment('summarize', { variations: ['bullets', 'short'], metric: 'success', ...options });
  }

  it('shifts traffic to the arm that succeeds more and promotes it with an event and a log line', async () => {
    const { optimizer, lines } = make({ evaluateEveryOutcomes: 50 });
    await experiment(optimizer);
    const rate: Record<string, number> = { control: 0.2, bullets: 0.9, short: 0.3 };
    const env = createSeededRandom(99);
    const promoted = new Promise((resolve) => optimizer.once('promoted', resolve));
    const served: Record<string, number> = { control: 0, bullets: 0, short: 0 };
    for (let i = 0; i < 600; i++) {
      const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
      if (selection.experiment === undefined) break;
      served[selection.arm]!++;
      await optimizer.recordOutcome(selection, { success: env() < rate[selection.arm]! });
    }
    await expect(promoted).resolves.toMatchObject({ template: 'summarize', arm: 'bullets', version: 2, label: 'production' });
    expect(served['bullets']).toBeGreaterThan(served['control']!);
    expect(served['bullets']).toBeGreaterThan(served['short']!);
    const after = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
    expect(after.prompt).toBe('Summarize in bullets: x');
    expect(after.selection.experiment).toBeUndefined();
    expect((await optimizer.getVersion('summarize', 2)).source).toBe('variation:bullets');
    expect(lines.some((l) => l['msg'] === 'prompt variation promoted' && l['arm'] === 'bullets')).toBe(true);
    const report = await optimizer.getReport('summarize');
    expect(report.history.map((h) => h.type)).toContain('promoted');
    expect(report.experiment?.status).toBe('completed');
    expect(report.experiment?.winner).toBe('bullets');
    await optimizer.close();
  });

  it('does not promote a winner whose metric stays below the quality threshold', async () => {
    const { optimizer } = make({ evaluateEveryOutcomes: 0, retireBelowProbability: 0 });
    await experiment(optimizer);
    const rate: Record<string, number> = { control: 0.1, bullets: 0.5, short: 0.1 };
    const env = createSeededRandom(5);
    for (let i = 0; i < 600; i++) {
      const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
      await optimizer.recordOutcome(selection, { success: env() < rate[selection.arm]! });
    }
    const decisions = await optimizer.evaluate('summarize');
    const best = decisions.find((d) => d.id === 'bullets')!;
    expect(best.probabilityBest).toBeGreaterThan(0.95);
    expect((await optimizer.getReport('summarize')).experiment?.status).toBe('running');
  });

  it('retires an arm far below the best and stops serving it', async () => {
    const { optimizer } = make({ evaluateEveryOutcomes: 0, autoPromote: false, retireMinOutcomes: 10 });
    await experiment(optimizer);
    const retired: string[] = [];
    optimizer.on('retired', (event) => retired.push(event.arm));
    const rate: Record<string, number> = { control: 0.5, bullets: 0.55, short: 0 };
    const env = createSeededRandom(6);
    for (let i = 0; i < 300; i++) {
      const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
      await optimizer.recordOutcome(selection, { success: env() < rate[selection.arm]! });
    }
    await optimizer.evaluate('summarize');
    expect(retired).toEqual(['short']);
    for (let i = 0; i < 200; i++) {
      expect((await optimizer.getPrompt('summarize', { variables: { text: 'x' } })).selection.arm).not.toBe('short');
    }
    const report = await optimizer.getReport('summarize');
    expect(report.experiment?.arms.find((a) => a.id === 'short')?.retired).toBe(true);
    expect(report.history.find((h) => h.type === 'retired')?.arm).toBe('short');
  });

  it('gives a subject the same arm every time, across instances sharing a store', async () => {
    const store = new MemoryPromptStore();
    const a = make({ store, random: createSeededRandom(11) }).optimizer;
    const b = make({ store, random: createSeededRandom(12) }).optimizer;
    await experiment(a);
    const arms = new Set<string>();
    for (let i = 0; i < 20; i++) {
      arms.add((await a.getPrompt('summarize', { variables: { text: 'x' }, subjectId: 'user-42' })).selection.arm);
      arms.add((await b.getPrompt('summarize', { variables: { text: 'x' }, subjectId: 'user-42' })).selection.arm);
    }
    expect(arms.size).toBe(1);
    const others = new Set<string>();
    for (let i = 0; i < 60; i++) others.add((await a.getPrompt('summarize', { variables: { text: 'x' }, subjectId: `u${i}` })).selection.arm);
    expect(others.size).toBe(3);
  });

  it('learns a different best arm per context', async () => {
    const { optimizer } = make({ evaluateEveryOutcomes: 0 });
    await experiment(optimizer, { contextKey: 'task' });
    const rate: Record<string, Record<string, number>> = {
      code: { control: 0.2, bullets: 0.8, short: 0.2 },
      chat: { control: 0.2, bullets: 0.2, short: 0.8 },
    };
    const env = createSeededRandom(21);
    const late: Record<string, Record<string, number>> = { code: {}, chat: {} };
    for (let i = 0; i < 2000; i++) {
      const task = i % 2 === 0 ? 'code' : 'chat';
      const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'x' }, context: { task } });
      expect(selection.context).toBe(task);
      if (i >= 1500) late[task]![selection.arm] = (late[task]![selection.arm] ?? 0) + 1;
      await optimizer.recordOutcome(selection, { success: env() < rate[task]![selection.arm]! });
    }
    expect(late['code']!['bullets']).toBeGreaterThan(200);
    expect(late['chat']!['short']).toBeGreaterThan(200);
    const report = await optimizer.getReport('summarize');
    expect(report.experiment?.arms.find((a) => a.id === 'bullets')?.contexts?.['code']?.mean).toBeGreaterThan(0.6);
  });

  it('serves the labelled version when optimisation is disabled', async () => {
    const { optimizer } = make({ enabled: false });
    await experiment(optimizer);
    for (let i = 0; i < 20; i++) {
      const { selection, prompt } = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
      expect(selection.arm).toBe('v1');
      expect(prompt).toBe('Summarize: x');
    }
  });

  it('splits by fixed weights and refuses a second running experiment', async () => {
    const { optimizer } = make();
    await experiment(optimizer, { strategy: 'fixed', weights: { control: 0, bullets: 1, short: 0 } });
    for (let i = 0; i < 30; i++) expect((await optimizer.getPrompt('summarize', { variables: { text: 'x' } })).selection.arm).toBe('bullets');
    await expect(optimizer.startExperiment('summarize', { variations: ['short'] })).rejects.toThrow('already runs');
    await optimizer.stopExperiment('summarize');
    expect((await optimizer.getPrompt('summarize', { variables: { text: 'x' } })).selection.arm).toBe('v1');
  });

  it('refuses variations that use undeclared variables and duplicate ids', async () => {
    const { optimizer } = make();
    await withSummarize(optimizer);
    await expect(optimizer.addVariation('summarize', { id: 'x', template: '{{text}} {{tone}}' })).rejects.toThrow('"tone"');
    await optimizer.addVariation('summarize', { id: 'x', template: 'A {{text}}' });
    await expect(optimizer.addVariation('summarize', { id: 'x', template: 'B {{text}}' })).rejects.toThrow(PromptOptimizerError);
    await expect(optimizer.addVariation('summarize', { id: 'control', template: 'B {{text}}' })).rejects.toThrow(ValidationError);
  });

  it('a throwing listener does not break recording', async () => {
    const { optimizer, lines } = make({ evaluateEveryOutcomes: 0 });
    await experiment(optimizer);
    optimizer.on('promoted', () => {
      throw new Error('listener bug');
    });
    await expect(optimizer.promote('summarize', 'short')).resolves.toBe(2);
    expect(lines.some((l) => l['msg'] === 'a prompt optimizer listener threw')).toBe(true);
  });
});

describe('PromptOptimizer writes', () => {
  it('sends outcomes recorded while a write is in flight together, and counts every one', async () => {
    class CountingStore extends MemoryPromptStore {
      calls: number[] = [];
      override async recordOutcomes(...args: Parameters<MemoryPromptStore['recordOutcomes']>): Promise<void> {
        this.calls.push(args[1].length);
        await new Promise((resolve) => setImmediate(resolve));
        return super.recordOutcomes(...args);
      }
    }
    const store = new CountingStore();
    const { optimizer } = make({ store });
    await withSummarize(optimizer);
    const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
    await Promise.all(Array.from({ length: 50 }, () => optimizer.recordOutcome(selection, { success: true })));
    expect(store.calls).toEqual([1, 49]);
    expect((await store.getStats('summarize', 'versions')).global['v1']?.successes).toBe(50);
    await optimizer.recordOutcome(selection, { success: false });
    expect(store.calls).toEqual([1, 49, 1]);
  });
});

describe('PromptOptimizer cache', () => {
  it('serves from the local cache until the TTL passes, then sees other instances', async () => {
    const store = new MemoryPromptStore();
    const clock = new FakeClock();
    const reader = make({ store, clock, cacheTtlMs: 1000, staleWhileRevalidate: false }).optimizer;
    const writer = make({ store, clock }).optimizer;
    await withSummarize(writer);
    expect((await reader.getPrompt('summarize', { variables: { text: 'x' } })).prompt).toBe('Summarize: x');
    await writer.registerTemplate('summarize', { template: 'New: {{text}}', variables: ['text'], labels: ['production'] });
    clock.advance(999);
    expect((await reader.getPrompt('summarize', { variables: { text: 'x' } })).prompt).toBe('Summarize: x');
    clock.advance(2);
    expect((await reader.getPrompt('summarize', { variables: { text: 'x' } })).prompt).toBe('New: x');
  });

  it('with stale-while-revalidate serves the stale copy once while refreshing', async () => {
    const store = new MemoryPromptStore();
    const clock = new FakeClock();
    const reader = make({ store, clock, cacheTtlMs: 100 }).optimizer;
    await withSummarize(reader);
    await reader.getPrompt('summarize', { variables: { text: 'x' } });
    await store.setLabel('summarize', 'production', 1);
    await reader.registerTemplate('summarize', { template: 'New: {{text}}', variables: ['text'] });
    await store.setLabel('summarize', 'production', 2);
    reader.invalidate();
    await reader.getPrompt('summarize', { variables: { text: 'x' } });
    await store.setLabel('summarize', 'production', 1);
    clock.advance(150);
    expect((await reader.getPrompt('summarize', { variables: { text: 'x' } })).prompt).toBe('New: x');
    await new Promise((resolve) => setImmediate(resolve));
    expect((await reader.getPrompt('summarize', { variables: { text: 'x' } })).prompt).toBe('Summarize: x');
  });
});

describe('PromptOptimizer reports and variation generation', () => {
  it('reports traffic, quality interval, success, latency percentiles, tokens, cost and scores', async () => {
    const { optimizer } = make();
    await withSummarize(optimizer);
    for (let i = 1; i <= 20; i++) {
      const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
      await optimizer.recordOutcome(selection, {
        scores: { relevance: 0.8, clarity: 0.6 },
        success: i % 4 !== 0,
        latencyMs: i * 10,
        tokens: { input: 10, output: 5 },
        costUsd: 0.001,
      });
    }
    const report = await optimizer.getReport('summarize');
    const v1 = report.versions[0]!;
    expect(v1).toMatchObject({ version: 1, traffic: 20, successRate: 0.75, latencyMs: { p50: 100, p95: 190 } });
    expect(v1.labels).toEqual(['latest', 'production']);
    expect(v1.quality?.mean).toBeCloseTo(0.7);
    expect(v1.quality!.interval[0]).toBeLessThan(0.7);
    expect(v1.quality!.interval[1]).toBeGreaterThan(0.7);
    expect(v1.tokens).toEqual({ total: 300, mean: 15 });
    expect(v1.costUsd.total).toBeCloseTo(0.02);
    expect(v1.scores['relevance']).toBeCloseTo(0.8);
  });

  it('generates rule-based variations, few-shot from the best recorded examples', async () => {
    const { optimizer } = make();
    await withSummarize(optimizer);
    for (const [quality, output] of [[0.95, 'great summary'], [0.2, 'bad summary']] as const) {
      const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'doc' } });
      await optimizer.recordOutcome(selection, { quality, example: { input: 'doc', output } });
    }
    const added = await optimizer.generateVariations('summarize', {
      rules: [variationRules.addRole('an editor'), variationRules.stepByStep(), variationRules.outputFormat('3 bullets'), variationRules.fewShot(1)],
    });
    expect(added.map((v) => v.id)).toEqual(['rule-add-role', 'rule-step-by-step', 'rule-output-format', 'rule-few-shot']);
    expect(added[0]!.template).toBe('You are an editor.\n\nSummarize: {{text}}');
    expect(added[3]!.template).toContain('great summary');
    expect(added[3]!.template).not.toContain('bad summary');
    await optimizer.startExperiment('summarize', { variations: added.map((v) => v.id), strategy: 'fixed', weights: { control: 0, 'rule-add-role': 1, 'rule-step-by-step': 0, 'rule-output-format': 0, 'rule-few-shot': 0 } });
    expect((await optimizer.getPrompt('summarize', { variables: { text: 'T' } })).prompt).toBe('You are an editor.\n\nSummarize: T');
  });

  it('adds LLM-proposed variations that keep the placeholders and drops the others', async () => {
    const { optimizer } = make();
    await withSummarize(optimizer);
    const llm = new LocalAdapter({
      respond: () => JSON.stringify(['Write a crisp summary of: {{text}}', 'Summarize this.', 'Summarize {{text}} for {{audience}}']),
    });
    const added = await optimizer.proposeVariations('summarize', { llm, count: 3 });
    expect(added.map((v) => [v.id, v.source, v.template])).toEqual([['llm', 'llm', 'Write a crisp summary of: {{text}}']]);
    expect(llm.calls[0]!.messages[0]!.content).toContain('Summarize: {{text}}');
  });

  it('reports served prompts and outcomes to the metrics hook, and survives a throwing one', async () => {
    const served: unknown[] = [];
    const outcomes: unknown[] = [];
    const { optimizer, lines } = make({
      metrics: {
        onPromptServed: (info) => served.push(info),
        onOutcomeRecorded: (info) => {
          outcomes.push(info);
          throw new Error('collector down');
        },
      },
    });
    await withSummarize(optimizer);
    const { selection } = await optimizer.getPrompt('summarize', { variables: { text: 'x' } });
    await optimizer.recordOutcome(selection, { scores: { a: 1, b: 0.5 }, tokens: { input: 3, output: 4 }, success: true });
    expect(served).toEqual([{ template: 'summarize', arm: 'v1' }]);
    expect(outcomes).toEqual([{ template: 'summarize', arm: 'v1', quality: 0.75, success: true, tokens: 7 }]);
    expect(lines.some((l) => l['msg'] === 'prompt optimizer metrics hook threw')).toBe(true);
  });

  it('initializePromptOptimizer without Redis uses the in-memory store', async () => {
    const optimizer = initializePromptOptimizer(undefined, undefined, { sampleSize: 5 });
    expect(optimizer.store).toBeInstanceOf(MemoryPromptStore);
    await optimizer.close();
    await optimizer.close();
  });
});
