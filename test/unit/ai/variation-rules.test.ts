import { describe, expect, it } from 'vitest';
import { LocalAdapter } from '../../../src/ai/llm/local-adapter.js';
import { PromptOptimizer } from '../../../src/ai/prompt-optimizer.js';
import { createSeededRandom } from '../../../src/ai/random.js';
import { variationRules } from '../../../src/ai/variation-rules.js';

describe('variation rules', () => {
  const none = { examples: [] };

  it('adds a role as a system message to chat prompts, or into the existing one', () => {
    const chat = { messages: [{ role: 'user' as const, content: '{{q}}' }] };
    expect(variationRules.addRole('a lawyer').apply(chat, none).messages).toEqual([
      { role: 'system', content: 'You are a lawyer.' },
      { role: 'user', content: '{{q}}' },
    ]);
    const withSystem = { messages: [{ role: 'system' as const, content: 'Be kind.' }, { role: 'user' as const, content: '{{q}}' }] };
    expect(variationRules.stepByStep().apply(withSystem, none).messages?.[0]?.content).toBe(
      'Be kind.\n\nThink through the problem step by step before giving the final answer.',
    );
  });

  it('trims filler words without touching placeholders', () => {
    const out = variationRules.trimVerbosity().apply({ template: 'Please   just summarize {{text}} in order to help. It is important that you be brief.\n\n\n\nThanks' }, none);
    expect(out.template).toBe('summarize {{text}} to help. be brief.\n\nThanks');
  });

  it('escapes braces coming from examples so they cannot become placeholders', () => {
    const out = variationRules.fewShot(1).apply({ template: 'Q: {{q}}' }, { examples: [{ input: 'use {{secret}}', output: 'ok', quality: 1 }] });
    expect(out.template).toContain('use { {secret} }');
  });
});

describe('quality metric with the Gaussian model', () => {
  it('finds and promotes the higher-quality variation', async () => {
    const optimizer = new PromptOptimizer({ random: createSeededRandom(3), qualityModel: 'gaussian', sampleSize: 10, qualityThreshold: 0.7, evaluateEveryOutcomes: 0 });
    await optimizer.registerTemplate('t', { template: 'A {{x}}', variables: ['x'] });
    await optimizer.addVariation('t', { id: 'b', template: 'B {{x}}' });
    const env = createSeededRandom(4);
    await optimizer.startExperiment('t', { variations: ['b'] });
    for (let i = 0; i < 300; i++) {
      const { selection } = await optimizer.getPrompt('t', { variables: { x: '1' } });
      const mean = selection.arm === 'b' ? 0.85 : 0.6;
      await optimizer.recordOutcome(selection, { quality: Math.min(1, Math.max(0, mean + (env() - 0.5) * 0.3)) });
    }
    await optimizer.evaluate('t');
    expect((await optimizer.getPrompt('t', { variables: { x: '1' } })).prompt).toBe('B 1');
    const report = await optimizer.getReport('t');
    expect(report.labels).toMatchObject({ production: 2, latest: 2 });
    expect(report.experiment?.winner).toBe('b');
  });
});

describe('LocalAdapter', () => {
  it('answers deterministically, estimates usage and honours maxTokens', async () => {
    const llm = new LocalAdapter();
    const a = await llm.complete({ messages: [{ role: 'user', content: 'hello world' }] });
    const b = await llm.complete({ messages: [{ role: 'user', content: 'hello world' }] });
    expect(a.text).toBe('echo: hello world');
    expect(b.text).toBe(a.text);
    expect(a.usage).toEqual({ inputTokens: 3, outputTokens: 5 });
    expect((await llm.complete({ messages: [{ role: 'user', content: 'x'.repeat(100) }], maxTokens: 2 })).text).toHaveLength(8);
  });
});
