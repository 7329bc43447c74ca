import { ValidationError } from '../core/validation-error.js';

/** What an evaluator looks at. */
export interface EvaluationInput {
  /** The model's output. */
  output: string;
  /** The prompt or user input that produced it. */
  input?: string;
  /** An expected answer, for similarity checks. */
  reference?: string;
}

/** An evaluator's verdict; `score` and `scores` in [0, 1]. Feed it to `recordOutcome`. */
export interface Evaluation {
  score: number;
  pass: boolean;
  reason: string;
  /** Per-criterion scores (the LLM judge, combined evaluators). */
  scores?: Record<string, number>;
}

/**
 * Scores an output. Heuristic evaluators are synchronous inside; the LLM judge calls a model.
 *
 * @example
 * ```ts
 * const verdict = await keywordsEvaluator({ required: ['refund'] }).evaluate({ output });
 * await optimizer.recordOutcome(selection, { quality: verdict.score, success: verdict.pass });
 * ```
 */
export interface Evaluator {
  /** Names the evaluator in combined results. */
  readonly name: string;
  /** Scores one output; the score is in [0, 1]. */
  evaluate(input: EvaluationInput): Promise<Evaluation>;
}

function evaluator(name: string, run: (input: EvaluationInput) => Evaluation): Evaluator {
  return { name, evaluate: (input) => Promise.resolve(run(input)) };
}

const clamp = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * Length bounds in characters and/or words. Score 1 within bounds, decreasing with the relative
 * distance outside them.
 *
 * @example
 * ```ts
 * lengthEvaluator({ maxWords: 120 });
 * ```
 */
export function lengthEvaluator(options: { minChars?: number; maxChars?: number; minWords?: number; maxWords?: number }): Evaluator {
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw new ValidationError(key, 'must be a non-negative integer');
  }
  return evaluator('length', ({ output }) => {
    const chars = output.length;
    const words = output.trim() === '' ? 0 : output.trim().split(/\s+/).length;
    const problems: string[] = [];
    let score = 1;
    const check = (value: number, min: number | undefined, max: number | undefined, unit: string): void => {
      if (min !== undefined && value < min) {
        problems.push(`${value} ${unit} < ${min}`);
        score = Math.min(score, min === 0 ? 0 : value / min);
      }
      if (max !== undefined && value > max) {
        problems.push(`${value} ${unit} > ${max}`);
        score = Math.min(score, max === 0 ? 0 : clamp(1 - (value - max) / max));
      }
    };
    check(chars, options.minChars, options.maxChars, 'chars');
    check(words, options.minWords, options.maxWords, 'words');
    return { score, pass: problems.length === 0, reason: problems.length === 0 ? 'length within bounds' : problems.join('; ') };
  });
}

/**
 * A format check by regular expression (must match, or must not).
 *
 * @example
 * ```ts
 * regexEvaluator(/^- /m); // bullet points expected
 * ```
 */
export function regexEvaluator(pattern: RegExp, options: { mustMatch?: boolean; name?: string } = {}): Evaluator {
  const mustMatch = options.mustMatch ?? true;
  return evaluator(options.name ?? 'format', ({ output }) => {
    const matched = new RegExp(pattern.source, pattern.flags.replace('g', '')).test(output);
    const pass = matched === mustMatch;
    return { score: pass ? 1 : 0, pass, reason: `${mustMatch ? 'expected' : 'did not expect'} ${String(pattern)}: ${matched ? 'matched' : 'no match'}` };
  });
}

/**
 * Required and forbidden keywords. Score = share of required keywords present; 0 when a
 * forbidden one appears.
 *
 * @example
 * ```ts
 * keywordsEvaluator({ required: ['order id', 'refund'], forbidden: ['as an AI'] });
 * ```
 */
export function keywordsEvaluator(options: { required?: readonly string[]; forbidden?: readonly string[]; caseSensitive?: boolean }): Evaluator {
  const norm = (text: string): string => (options.caseSensitive === true ? text : text.toLowerCase());
  const required = options.required ?? [];
  const forbidden = options.forbidden ?? [];
  return evaluator('keywords', ({ output }) => {
    const text = norm(output);
    const missing = required.filter((word) => !text.includes(norm(word)));
    const found = forbidden.filter((word) => text.includes(norm(word)));
    const score = found.length > 0 ? 0 : required.length === 0 ? 1 : (required.length - missing.length) / required.length;
    const reasons = [
      ...(missing.length > 0 ? [`missing: ${missing.join(', ')}`] : []),
      ...(found.length > 0 ? [`forbidden: ${found.join(', ')}`] : []),
    ];
    return { score, pass: missing.length === 0 && found.length === 0, reason: reasons.join('; ') || 'all keywords satisfied' };
  });
}

/** The JSON Schema subset {@link jsonEvaluator} checks. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null' | readonly ('object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null')[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean;
  items?: JsonSchema;
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Validates `value` against the schema subset; returns problems as `path: message`. */
export function validateJson(value: unknown, schema: JsonSchema, path = '$'): string[] {
  const problems: string[] = [];
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const types = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) return [`${path}: expected ${types.join(' | ')}, got ${actual}`];
  }
  if (schema.enum !== undefined && !schema.enum.some((item) => JSON.stringify(item) === JSON.stringify(value))) {
    problems.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: above ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${path}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) problems.push(`${path}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) problems.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) problems.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) {
      const items = schema.items;
      value.forEach((item, i) => problems.push(...validateJson(item, items, `${path}[${i}]`)));
    }
  }
  if (actual === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) problems.push(`${path}.${key}: required`);
    for (const [key, item] of Object.entries(record)) {
      const sub = schema.properties?.[key];
      if (sub !== undefined) problems.push(...validateJson(item, sub, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}.${key}: not allowed`);
    }
  }
  return problems;
}

/**
 * JSON validity, optionally against a schema (type, properties, required, items, enum, bounds,
 * pattern). A fenced ```json block is accepted. Score 1 valid, 0 otherwise.
 *
 * @example
 * ```ts
 * jsonEvaluator({ schema: { type: 'object', required: ['intent'], properties: { intent: { enum: ['refund', 'other'] } } } });
 * ```
 */
export function jsonEvaluator(options: { schema?: JsonSchema } = {}): Evaluator {
  return evaluator('json', ({ output }) => {
    const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(output);
    let value: unknown;
    try {
      value = JSON.parse((fenced?.[1] ?? output).trim());
    } catch (error) {
      return { score: 0, pass: false, reason: `invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
    }
    const problems = options.schema === undefined ? [] : validateJson(value, options.schema);
    return problems.length === 0
      ? { score: 1, pass: true, reason: 'valid JSON' }
      : { score: 0, pass: false, reason: problems.slice(0, 5).join('; ') };
  });
}

function termVector(text: string): Map<string, number> {
  const vector = new Map<string, number>();
  for (const term of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) vector.set(term, (vector.get(term) ?? 0) + 1);
  return vector;
}

/** Cosine similarity of term-frequency vectors, in [0, 1]. */
export function textSimilarity(a: string, b: string): number {
  const va = termVector(a);
  const vb = termVector(b);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [term, count] of va) {
    na += count * count;
    dot += count * (vb.get(term) ?? 0);
  }
  for (const count of vb.values()) nb += count * count;
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * Similarity to a reference answer (cosine of term frequencies). Reference from the options or
 * from each input. Passes at `threshold` (default 0.5).
 *
 * @example
 * ```ts
 * await similarityEvaluator().evaluate({ output, reference: expected });
 * ```
 */
export function similarityEvaluator(options: { reference?: string; threshold?: number } = {}): Evaluator {
  const threshold = options.threshold ?? 0.5;
  return evaluator('similarity', ({ output, reference }) => {
    const expected = reference ?? options.reference;
    if (expected === undefined) throw new ValidationError('reference', 'is needed by the similarity evaluator');
    const score = textSimilarity(output, expected);
    return { score, pass: score >= threshold, reason: `similarity ${score.toFixed(3)} (threshold ${threshold})` };
  });
}

/**
 * Runs several evaluators and averages their scores (weighted); passes when all pass. Each
 * evaluator's score appears in `scores` under its name.
 *
 * @example
 * ```ts
 * const check = combineEvaluators([jsonEvaluator({ schema }), lengthEvaluator({ maxChars: 2000 })]);
 * ```
 */
export function combineEvaluators(evaluators: readonly Evaluator[], weights: Readonly<Record<string, number>> = {}): Evaluator {
  if (evaluators.length === 0) throw new ValidationError('evaluators', 'must not be empty');
  return {
    name: 'combined',
    async evaluate(input) {
      const results = await Promise.all(evaluators.map(async (e) => ({ name: e.name, result: await e.evaluate(input) })));
      let total = 0;
      let sum = 0;
      const scores: Record<string, number> = {};
      for (const { name, result } of results) {
        const weight = weights[name] ?? 1;
        total += weight;
        sum += weight * result.score;
        scores[name] = result.score;
      }
      return {
        score: total === 0 ? 0 : sum / total,
        pass: results.every(({ result }) => result.pass),
        reason: results.map(({ name, result }) => `${name}: ${result.reason}`).join(' | '),
        scores,
      };
    },
  };
}
