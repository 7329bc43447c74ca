import { describe, expect, it } from 'vitest';
import {
  combineEvaluators,
  jsonEvaluator,
  keywordsEvaluator,
  lengthEvaluator,
  regexEvaluator,
  similarityEvaluator,
  textSimilarity,
} from '../../../src/ai/evaluators.js';
import { LlmJudgeEvaluator } from '../../../src/ai/llm-judge-evaluator.js';
import { LocalAdapter } from '../../../src/ai/llm/local-adapter.js';
import { LlmError } from '../../../src/ai/llm/llm-error.js';

describe('heuristic evaluators', () => {
  it('length: passes within bounds and scores down outside', async () => {
    const e = lengthEvaluator({ minWords: 2, maxChars: 20 });
    expect(await e.evaluate({ output: 'two words' })).toMatchObject({ score: 1, pass: true });
    expect(await e.evaluate({ output: 'one' })).toMatchObject({ score: 0.5, pass: false });
    const long = await e.evaluate({ output: 'a'.repeat(30) + ' b' });
    expect(long.pass).toBe(false);
    expect(long.score).toBeCloseTo(0.4);
  });

  it('keywords: share of required present, zero on a forbidden one', async () => {
    const e = keywordsEvaluator({ required: ['Refund', 'order'], forbidden: ['as an AI'] });
    expect((await e.evaluate({ output: 'Your refund for the order' })).score).toBe(1);
    expect((await e.evaluate({ output: 'Your refund' })).score).toBe(0.5);
    expect(await e.evaluate({ output: 'As an AI, refund order' })).toMatchObject({ score: 0, pass: false });
  });

  it('json: validates syntax and the schema subset, fenced blocks included', async () => {
    const e = jsonEvaluator({
      schema: {
        type: 'object',
        required: ['intent', 'confidence'],
        additionalProperties: false,
        properties: { intent: { enum: ['refund', 'other'] }, confidence: { type: 'number', minimum: 0, maximum: 1 }, tags: { type: 'array', items: { type: 'string' } } },
      },
    });
    expect(await e.evaluate({ output: '```json\n{"intent":"refund","confidence":0.9,"tags":["a"]}\n```' })).toMatchObject({ pass: true, score: 1 });
    expect((await e.evaluate({ output: '{"intent":"x","confidence":2,"tags":[1],"extra":true}' })).reason).toBe(
      '$.intent: not one of ["refund","other"]; $.confidence: above 1; $.tags[0]: expected string, got integer; $.extra: not allowed',
    );
    expect((await e.evaluate({ output: '{nope' })).reason).toMatch(/^invalid JSON/);
  });

  it('similarity and regex, combined with weights', async () => {
    expect(textSimilarity('the cat sat', 'the cat sat')).toBeCloseTo(1);
    expect(textSimilarity('alpha beta', 'gamma delta')).toBe(0);
    const combined = combineEvaluators([similarityEvaluator({ reference: 'refund approved today' }), regexEvaluator(/^Dear/)], { similarity: 3, format: 1 });
    const result = await combined.evaluate({ output: 'Dear customer, refund approved today' });
    expect(result.scores?.['format']).toBe(1);
    expect(result.score).toBeCloseTo((3 * result.scores!['similarity']! + 1) / 4);
  });
});

describe('LLM-as-judge', () => {
  it('sends the rubric, input and answer and returns per-criterion scores in [0, 1]', async () => {
    const llm = new LocalAdapter({ respond: () => 'Here you go: {"scores": {"relevance": 9, "clarity": 6, "completeness": 3}, "reason": "misses steps"}' });
    const judge = new LlmJudgeEvaluator({ llm, rubric: 'Must list all steps.' });
    const verdict = await judge.evaluate({ input: 'How to reset?', output: 'Click reset.' });
    expect(verdict.scores).toEqual({ relevance: 0.9, clarity: 0.6, completeness: 0.3 });
    expect(verdict.score).toBeCloseTo(0.6);
    expect(verdict.pass).toBe(false);
    expect(verdict.reason).toBe('misses steps');
    const sent = llm.calls[0]!;
    expect(sent.temperature).toBe(0);
    expect(sent.messages[0]!.content).toContain('RUBRIC:\nMust list all steps.');
    expect(sent.messages[0]!.content).toContain('ANSWER TO GRADE:\nClick reset.');
  });

  it('takes the median of several samples', async () => {
    const answers = [2, 8, 9];
    let call = 0;
    const llm = new LocalAdapter({ respond: () => JSON.stringify({ scores: { relevance: answers[call++ % 3] } }) });
    const verdict = await new LlmJudgeEvaluator({ llm, criteria: ['relevance'], samples: 3 }).evaluate({ output: 'x' });
    expect(verdict.scores).toEqual({ relevance: 0.8 });
  });

  it('fails loudly on an answer without the expected scores', async () => {
    const judge = new LlmJudgeEvaluator({ llm: new LocalAdapter({ respond: () => '{"scores": {"relevance": 5}}' }) });
    await expect(judge.evaluate({ output: 'x' })).rejects.toSatisfy((e: unknown) => LlmError.isInstance(e) && e.message.includes('"clarity"'));
  });
});

describe('LocalAdapter', () => {
  it('keeps only the most recent maxRecordedCalls requests', async () => {
    const llm = new LocalAdapter({ maxRecordedCalls: 3 });
    for (let i = 0; i < 10; i += 1) await llm.complete({ messages: [{ role: 'user', content: `m${i}` }] });
    expect(llm.calls.map((c) => c.messages[0]?.content)).toEqual(['m7', 'm8', 'm9']);
    const none = new LocalAdapter({ maxRecordedCalls: 0 });
    await none.complete({ messages: [{ role: 'user', content: 'x' }] });
    expect(none.calls).toHaveLength(0);
    expect(() => new LocalAdapter({ maxRecordedCalls: -1 })).toThrow('"maxRecordedCalls" must be a non-negative integer');
  });
});
