import { PromptTemplateError } from './prompt-template-error.js';
import type { PromptMessage, PromptValues, PromptVariables, PromptVariableSpec, TemplateVersion } from './types.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const ANY_TAG = /\{\{([\s\S]*?)\}\}/g;

/** A compiled piece of a template: literal text or a variable reference. */
export type TemplatePart = string | { variable: string };

/** A template parsed once: literal text and variable slots, for fast rendering. */
export interface CompiledTemplate {
  readonly variables: TemplateVersion['variables'];
  readonly text?: readonly TemplatePart[];
  readonly messages?: readonly { role: PromptMessage['role']; parts: readonly TemplatePart[] }[];
}

/** Normalizes declared variables to full specs; rejects bad names and types. */
export function normalizeVariables(variables: PromptVariables | undefined, template?: string): TemplateVersion['variables'] {
  const out: TemplateVersion['variables'] = {};
  if (variables === undefined) return out;
  const entries: [string, PromptVariableSpec | string][] = Array.isArray(variables)
    ? (variables as readonly string[]).map((name) => [name, {}])
    : Object.entries(variables as Record<string, PromptVariableSpec | string>);
  for (const [name, raw] of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new PromptTemplateError(`Variable name "${name}" must match [A-Za-z_][A-Za-z0-9_]*`, { variable: name, template });
    }
    const spec: PromptVariableSpec = typeof raw === 'string' ? { type: raw as PromptVariableSpec['type'] } : raw;
    const type = spec.type ?? 'string';
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      throw new PromptTemplateError(`Variable "${name}" has unknown type "${String(type)}"`, { variable: name, template });
    }
    out[name] = { type, required: spec.required ?? true, ...(spec.description === undefined ? {} : { description: spec.description }) };
  }
  return out;
}

/** Every `{{name}}` used in a text, in order of first use. */
export function placeholdersOf(text: string): string[] {
  const seen = new Set<string>();
  for (const match of text.matchAll(PLACEHOLDER)) seen.add(match[1] as string);
  return [...seen];
}

function parse(text: string, variables: TemplateVersion['variables'], template: string | undefined): TemplatePart[] {
  for (const match of text.matchAll(ANY_TAG)) {
    if (!/^\s*[A-Za-z_][A-Za-z0-9_]*\s*$/.test(match[1] as string)) {
      throw new PromptTemplateError(
        `Unsupported template syntax "${match[0]}": only {{variable}} placeholders are allowed`,
        { template },
      );
    }
  }
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1] as string;
    if (!(name in variables)) {
      throw new PromptTemplateError(`Template uses undeclared variable "${name}"`, { variable: name, template });
    }
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push({ variable: name });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/**
 * Parses a text or chat template against its declared variables. Throws
 * {@link PromptTemplateError} on undeclared placeholders or any syntax other than `{{name}}`.
 *
 * @example
 * ```ts
 * const compiled = compileTemplate({ template: 'Hi {{name}}' }, normalizeVariables(['name']));
 * renderCompiled(compiled, { name: 'Ada' }); // { prompt: 'Hi Ada' }
 * ```
 */
export function compileTemplate(
  content: { template?: string | undefined; messages?: readonly PromptMessage[] | undefined },
  variables: TemplateVersion['variables'],
  name?: string,
): CompiledTemplate {
  if (content.template !== undefined && content.messages !== undefined) {
    throw new PromptTemplateError('Give either "template" or "messages", not both', { template: name });
  }
  if (typeof content.template === 'string') return { variables, text: parse(content.template, variables, name) };
  if (!Array.isArray(content.messages) || content.messages.length === 0) {
    throw new PromptTemplateError('A prompt needs a "template" string or a non-empty "messages" array', { template: name });
  }
  const list: readonly PromptMessage[] = content.messages;
  const messages = list.map((message, index) => {
    if (!['system', 'user', 'assistant'].includes(message.role) || typeof message.content !== 'string') {
      throw new PromptTemplateError(`messages[${index}] must have role system|user|assistant and string content`, { template: name });
    }
    return { role: message.role, parts: parse(message.content, variables, name) };
  });
  return { variables, messages };
}

function fill(parts: readonly TemplatePart[], values: Readonly<Record<string, string>>): string {
  let out = '';
  for (const part of parts) out += typeof part === 'string' ? part : (values[part.variable] ?? '');
  return out;
}

/** Checks values against declared variables (missing, extra, wrong type) and stringifies them. */
export function checkValues(compiled: CompiledTemplate, values: PromptValues | undefined, name?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const given = values ?? {};
  for (const key of Object.keys(given)) {
    if (given[key] !== undefined && !(key in compiled.variables)) {
      throw new PromptTemplateError(`Unexpected variable "${key}"${name === undefined ? '' : ` for template "${name}"`}`, {
        variable: key,
        template: name,
      });
    }
  }
  for (const [key, spec] of Object.entries(compiled.variables)) {
    const value = given[key];
    if (value === undefined) {
      if (spec.required) {
        throw new PromptTemplateError(`Missing variable "${key}"${name === undefined ? '' : ` for template "${name}"`}`, {
          variable: key,
          template: name,
        });
      }
      out[key] = '';
      continue;
    }
    if (typeof value !== spec.type) {
      throw new PromptTemplateError(`Variable "${key}" must be a ${spec.type} (got ${typeof value})`, { variable: key, template: name });
    }
    out[key] = String(value);
  }
  return out;
}

/**
 * Renders a compiled template. Missing, extra or mistyped variables throw
 * {@link PromptTemplateError} naming the variable.
 *
 * @example
 * ```ts
 * renderCompiled(compiled, { name: 'Ada' }).prompt; // 'Hi Ada'
 * ```
 */
export function renderCompiled(
  compiled: CompiledTemplate,
  values: PromptValues | undefined,
  name?: string,
): { prompt?: string; messages?: PromptMessage[] } {
  const strings = checkValues(compiled, values, name);
  if (compiled.text !== undefined) return { prompt: fill(compiled.text, strings) };
  return { messages: (compiled.messages ?? []).map((message) => ({ role: message.role, content: fill(message.parts, strings) })) };
}

/**
 * Renders a `{{var}}` template once, without registering it: no code execution, no other syntax.
 *
 * @example
 * ```ts
 * renderTemplate('Summarize: {{text}}', { text: 'long…' }); // 'Summarize: long…'
 * renderTemplate('Hi {{name}}', {}); // throws PromptTemplateError: Missing variable "name"
 * ```
 */
export function renderTemplate(template: string, values: PromptValues): string {
  const variables = normalizeVariables(placeholdersOf(template));
  return renderCompiled(compileTemplate({ template }, variables), values).prompt ?? '';
}
