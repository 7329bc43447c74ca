import type { PromptExample, PromptMessage } from './types.js';

/** The content a rule rewrites: plain text or chat messages. */
export interface VariationContent {
  template?: string;
  messages?: PromptMessage[];
}

/** What a rule may use besides the content. */
export interface VariationRuleContext {
  /** Best-scored examples recorded for the template, best first. */
  examples: readonly PromptExample[];
}

/**
 * A programmatic rewrite of a prompt: adds a role, step-by-step instructions, an output format,
 * trims verbosity, or adds few-shot examples. Rules never touch `{{variables}}`.
 *
 * @example
 * ```ts
 * await optimizer.generateVariations('summarize', { rules: [variationRules.stepByStep(), variationRules.addRole('an editor')] });
 * ```
 */
export interface VariationRule {
  /** Short kebab-case name, used in the variation id (`rule-<name>`). */
  readonly name: string;
  /** Returns the rewritten content; placeholders must survive unchanged. */
  apply(content: VariationContent, context: VariationRuleContext): VariationContent;
}

/** Makes literal text safe to put inside a template (no accidental `{{`). */
function literal(text: string): string {
  return text.replace(/\{\{/g, '{ {').replace(/\}\}/g, '} }');
}

function prependInstruction(content: VariationContent, instruction: string): VariationContent {
  if (content.template !== undefined) return { template: `${instruction}\n\n${content.template}` };
  const messages = [...(content.messages ?? [])];
  const first = messages[0];
  if (first?.role === 'system') messages[0] = { role: 'system', content: `${instruction}\n\n${first.content}` };
  else messages.unshift({ role: 'system', content: instruction });
  return { messages };
}

function appendInstruction(content: VariationContent, instruction: string): VariationContent {
  if (content.template !== undefined) return { template: `${content.template}\n\n${instruction}` };
  const messages = [...(content.messages ?? [])];
  const index = messages.findIndex((message) => message.role === 'system');
  const system = messages[index];
  if (system !== undefined) messages[index] = { role: 'system', content: `${system.content}\n\n${instruction}` };
  else messages.unshift({ role: 'system', content: instruction });
  return { messages };
}

const FILLER =
  /\b(please|kindly|basically|actually|really|very|just|simply|make sure to|feel free to|in order to|it is important that you|note that)\b\s*/gi;

function trim(text: string): string {
  return text
    .replace(FILLER, (match, word: string) => (word.toLowerCase() === 'in order to' ? 'to ' : ''))
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Built-in {@link VariationRule}s.
 *
 * @example
 * ```ts
 * const rules = [variationRules.addRole('a senior support engineer'), variationRules.outputFormat('Answer in at most 3 bullet points.')];
 * ```
 */
export const variationRules = {
  /** Opens the prompt with "You are <role>." (a system message for chat prompts). */
  addRole(role: string): VariationRule {
    return { name: 'add-role', apply: (content) => prependInstruction(content, `You are ${literal(role)}.`) };
  },
  /** Asks for step-by-step reasoning before the answer. */
  stepByStep(instruction = 'Think through the problem step by step before giving the final answer.'): VariationRule {
    return { name: 'step-by-step', apply: (content) => appendInstruction(content, literal(instruction)) };
  },
  /** Adds output-format constraints (e.g. "Reply with JSON matching {…}"). */
  outputFormat(format: string): VariationRule {
    return { name: 'output-format', apply: (content) => appendInstruction(content, `Output format: ${literal(format)}`) };
  },
  /** Removes filler words and extra blank lines. */
  trimVerbosity(): VariationRule {
    return {
      name: 'trim-verbosity',
      apply: (content) =>
        content.template !== undefined
          ? { template: trim(content.template) }
          : { messages: (content.messages ?? []).map((message) => ({ role: message.role, content: trim(message.content) })) },
    };
  },
  /** Adds the `count` best-scored recorded examples (input → output) as few-shot demonstrations. */
  fewShot(count = 3): VariationRule {
    return {
      name: 'few-shot',
      apply: (content, context) => {
        const examples = context.examples.slice(0, count);
        if (examples.length === 0) return content;
        const block = examples
          .map((example, index) => `Example ${index + 1}:\nInput: ${literal(example.input)}\nOutput: ${literal(example.output)}`)
          .join('\n\n');
        return appendInstruction(content, `Here are examples of excellent answers:\n\n${block}`);
      },
    };
  },
} as const;
