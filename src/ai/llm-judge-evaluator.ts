import { ValidationError } from '../core/validation-error.js';
import type { EvaluationInput, Evaluation, Evaluator } from './evaluators.js';
import type { LlmAdapter } from './llm/llm-adapter.js';
import { LlmError } from './llm/llm-error.js';

/** Options of {@link LlmJudgeEvaluator}. */
export interface LlmJudgeOptions {
  /** The judging model. */
  llm: LlmAdapter;
  /** Criteria scored 0–10 and reported in [0, 1]. Default `['relevance', 'clarity', 'completeness']`. */
  criteria?: readonly string[];
  /** Extra grading instructions (what a good answer looks like). */
  rubric?: string;
  /** Mean score needed to pass. Default `0.7`. */
  passThreshold?: number;
  /** Independent judgements per evaluation; the median per criterion is kept (steadier grades). Default `1`. */
  samples?: number;
  /** Judge temperature. Default `0`. */
  temperature?: number;
}

/**
 * LLM-as-judge: asks a model to grade an output per criterion against a rubric and returns
 * per-criterion scores in [0, 1] (`scores`) and their mean (`score`). Several `samples` are
 * reduced by median, against flaky grades.
 *
 * @example
 * ```ts
 * const judge = new LlmJudgeEvaluator({ llm: new OpenAIAdapter({ apiKey, model: 'gpt-4o-mini' }), rubric: 'Cites the order id.' });
 * const { scores } = await judge.evaluate({ input: question, output: answer });
 * await optimizer.recordOutcome(selection, { scores });
 * ```
 */
export class LlmJudgeEvaluator implements Evaluator {
  readonly name = 'llm-judge';
  private readonly llm: LlmAdapter;
  private readonly criteria: readonly string[];
  private readonly rubric: string | undefined;
  private readonly passThreshold: number;
  private readonly samples: number;
  private readonly temperature: number;

  constructor(options: LlmJudgeOptions) {
    this.llm = options.llm;
    this.criteria = options.criteria ?? ['relevance', 'clarity', 'completeness'];
    if (this.criteria.length === 0 || this.criteria.some((c) => !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(c))) {
      throw new ValidationError('criteria', 'must be a non-empty list of identifiers');
    }
    this.rubric = options.rubric;
    this.passThreshold = options.passThreshold ?? 0.7;
    this.samples = options.samples ?? 1;
    if (!Number.isInteger(this.samples) || this.samples < 1) throw new ValidationError('samples', 'must be a positive integer');
    this.temperature = options.temperature ?? 0;
  }

  async evaluate(input: EvaluationInput): Promise<Evaluation> {
    const judgements = await Promise.all(Array.from({ length: this.samples }, () => this.judgeOnce(input)));
    const scores: Record<string, number> = {};
    for (const criterion of this.criteria) scores[criterion] = median(judgements.map((j) => j.scores[criterion] ?? 0));
    const score = Object.values(scores).reduce((a, b) => a + b, 0) / this.criteria.length;
    return { score, pass: score >= this.passThreshold, reason: judgements[0]?.reason ?? '', scores };
  }

  private async judgeOnce(input: EvaluationInput): Promise<{ scores: Record<string, number>; reason: string }> {
    const shape = `{"scores": {${this.criteria.map((c) => `"${c}": <0-10>`).join(', ')}}, "reason": "<one sentence>"}`;
    const result = await this.llm.complete({
      system:
        'You are a strict grader of AI answers. Score each criterion from 0 (useless) to 10 (perfect). ' +
        `Reply with only JSON of the form ${shape}.`,
      messages: [
        {
          role: 'user',
          content: [
            ...(this.rubric === undefined ? [] : [`RUBRIC:\n${this.rubric}`]),
            ...(input.input === undefined ? [] : [`INPUT:\n${input.input}`]),
            ...(input.reference === undefined ? [] : [`REFERENCE ANSWER:\n${input.reference}`]),
            `ANSWER TO GRADE:\n${input.output}`,
          ].join('\n\n'),
        },
      ],
      maxTokens: 400,
      temperature: this.temperature,
    });
    return this.parse(result.text);
  }

  private parse(text: string): { scores: Record<string, number>; reason: string } {
    const start = text.indexOf('{');
    const end = text.lastIndexOf('}');
    let body: { scores?: Record<string, unknown>; reason?: unknown } | undefined;
    try {
      body = start >= 0 && end > start ? (JSON.parse(text.slice(start, end + 1)) as typeof body) : undefined;
    } catch {
      body = undefined;
    }
    const raw = body?.scores;
    if (raw === undefined || typeof raw !== 'object') {
      throw new LlmError(this.llm.provider, `judge answer is not the expected JSON: ${text.slice(0, 120)}`, { status: 200, transient: false });
    }
    const scores: Record<string, number> = {};
    for (const criterion of this.criteria) {
      const value = Number(raw[criterion]);
      if (!Number.isFinite(value)) {
        throw new LlmError(this.llm.provider, `judge gave no score for "${criterion}"`, { status: 200, transient: false });
      }
      scores[criterion] = Math.min(1, Math.max(0, value / 10));
    }
    return { scores, reason: typeof body?.reason === 'string' ? body.reason : '' };
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
