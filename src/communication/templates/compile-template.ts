import { TemplateError } from '../template-error.js';

/** How values are written: HTML-escaped, or as they are (plain text, subjects). */
export type TemplateMode = 'html' | 'text';

type Node =
  | { kind: 'text'; value: string }
  | { kind: 'var'; path: readonly string[]; name: string }
  | { kind: 'each'; path: readonly string[]; name: string; body: readonly Node[] }
  | { kind: 'if'; path: readonly string[]; name: string; then: readonly Node[]; otherwise: readonly Node[] };

/** A template parsed once; `render` only walks the tree. */
export interface CompiledTemplate {
  /** Every variable path the template reads, for docs and validation. */
  readonly variables: readonly string[];
  /** Renders with `data`; a missing variable throws {@link TemplateError} naming it. */
  render(data: Readonly<Record<string, unknown>>): string;
}

const TAG = /\{\{([\s\S]*?)\}\}/g;
const PATH = /^(?:this|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__']);
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;', '=': '&#61;' };

/**
 * Escapes a value for HTML text and quoted attributes.
 *
 * @example
 * ```ts
 * escapeHtml('<b>"hi"</b>'); // '&lt;b&gt;&quot;hi&quot;&lt;/b&gt;'
 * ```
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=]/g, (char) => ESCAPES[char] ?? char);
}

/**
 * Compiles a logic-less template: `{{var.path}}` (escaped in `html` mode), `{{#each list}}…{{/each}}`
 * (`{{this}}` is the item; item fields shadow outer ones), `{{#if flag}}…{{else}}…{{/if}}` and
 * `{{! comments }}`. There is no unescaped output (`{{{ }}}` is refused), no helpers, no
 * prototype access: templates cannot run code, and data keys like `__proto__` are never read.
 *
 * @param name - the template name, for error messages.
 * @throws TemplateError on syntax errors.
 * @example
 * ```ts
 * const hello = compileTemplate('Hi {{user.name}}', 'html', 'hello');
 * hello.render({ user: { name: '<Ada>' } }); // 'Hi &lt;Ada&gt;'
 * ```
 */
export function compileTemplate(source: string, mode: TemplateMode, name?: string): CompiledTemplate {
  if (typeof source !== 'string') throw new TemplateError('Template source must be a string', { template: name });
  if (source.includes('{{{') || source.includes('}}}')) {
    throw new TemplateError('Triple braces {{{ }}} (unescaped output) are not supported', { template: name });
  }
  const variables = new Set<string>();
  const root: Node[] = [];
  const stack: { kind: 'each' | 'if'; nodes: Node[]; node: Node & { kind: 'each' | 'if' }; inElse: boolean }[] = [];
  const current = (): Node[] => {
    const top = stack.at(-1);
    if (top === undefined) return root;
    if (top.node.kind === 'if' && top.inElse) return top.node.otherwise as Node[];
    return top.nodes;
  };
  const parsePath = (text: string): string[] => {
    const path = text.trim();
    if (!PATH.test(path)) throw new TemplateError(`Invalid variable "${path}" in {{ }}`, { template: name, variable: path });
    const parts = path.split('.');
    const bad = parts.find((part) => FORBIDDEN.has(part));
    if (bad !== undefined) throw new TemplateError(`Variable "${path}" uses the reserved key "${bad}"`, { template: name, variable: path });
    variables.add(path);
    return parts;
  };

  let last = 0;
  for (const match of source.matchAll(TAG)) {
    if (match.index > last) current().push({ kind: 'text', value: source.slice(last, match.index) });
    last = match.index + match[0].length;
    const body = (match[1] ?? '').trim();
    if (body.startsWith('!')) continue;
    if (body.startsWith('#each ') || body.startsWith('#if ')) {
      const kind = body.startsWith('#each ') ? 'each' : 'if';
      const pathText = body.slice(kind === 'each' ? 6 : 4);
      const path = parsePath(pathText);
      const nodes: Node[] = [];
      const node: Node & { kind: 'each' | 'if' } =
        kind === 'each'
          ? { kind: 'each', path, name: path.join('.'), body: nodes }
          : { kind: 'if', path, name: path.join('.'), then: nodes, otherwise: [] };
      current().push(node);
      stack.push({ kind, nodes, node, inElse: false });
    } else if (body === 'else') {
      const top = stack.at(-1);
      if (top?.kind !== 'if' || top.inElse) throw new TemplateError('{{else}} outside {{#if}}', { template: name });
      top.inElse = true;
    } else if (body === '/each' || body === '/if') {
      const top = stack.pop();
      if (top === undefined || `/${top.kind}` !== body) throw new TemplateError(`Unexpected {{${body}}}`, { template: name });
    } else if (/^[#/>^&]/.test(body)) {
      throw new TemplateError(`Unsupported tag {{${body}}}`, { template: name });
    } else {
      const path = parsePath(body);
      current().push({ kind: 'var', path, name: path.join('.') });
    }
  }
  if (last < source.length) current().push({ kind: 'text', value: source.slice(last) });
  const open = stack.at(-1);
  if (open !== undefined) throw new TemplateError(`Unclosed {{#${open.kind} ${open.node.name}}}`, { template: name });

  const nodes = mergeText(root);
  return Object.freeze({
    variables: Object.freeze([...variables]),
    render(data: Readonly<Record<string, unknown>>): string {
      if (typeof data !== 'object' || data === null) throw new TemplateError('Template data must be an object', { template: name });
      return renderNodes(nodes, [data], mode, name);
    },
  });
}

function mergeText(nodes: Node[]): Node[] {
  const out: Node[] = [];
  for (const node of nodes) {
    const previous = out.at(-1);
    if (node.kind === 'text' && previous?.kind === 'text') out[out.length - 1] = { kind: 'text', value: previous.value + node.value };
    else if (node.kind === 'each') out.push({ ...node, body: mergeText([...node.body]) });
    else if (node.kind === 'if') out.push({ ...node, then: mergeText([...node.then]), otherwise: mergeText([...node.otherwise]) });
    else out.push(node);
  }
  return out;
}

const MISSING = Symbol('missing');

function lookup(path: readonly string[], scopes: readonly unknown[]): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return MISSING;
  for (let index = scopes.length - 1; index >= 0; index--) {
    const scope = scopes[index];
    let value: unknown;
    if (head === 'this') value = scope;
    else if (typeof scope === 'object' && scope !== null && Object.hasOwn(scope, head)) value = (scope as Record<string, unknown>)[head];
    else continue;
    for (const part of rest) {
      if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return MISSING;
      value = (value as Record<string, unknown>)[part];
    }
    return value === undefined ? MISSING : value;
  }
  return MISSING;
}

function renderNodes(nodes: readonly Node[], scopes: unknown[], mode: TemplateMode, template: string | undefined): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') {
      out += node.value;
    } else if (node.kind === 'var') {
      const value = lookup(node.path, scopes);
      if (value === MISSING) throw new TemplateError(`Missing template variable "${node.name}"`, { template, variable: node.name });
      out += scalar(value, node.name, mode, template);
    } else if (node.kind === 'if') {
      const value = lookup(node.path, scopes);
      const truthy = value !== MISSING && Boolean(value) && !(Array.isArray(value) && value.length === 0);
      out += renderNodes(truthy ? node.then : node.otherwise, scopes, mode, template);
    } else {
      const value = lookup(node.path, scopes);
      if (value === MISSING) throw new TemplateError(`Missing template variable "${node.name}"`, { template, variable: node.name });
      if (!Array.isArray(value)) throw new TemplateError(`Template variable "${node.name}" must be an array`, { template, variable: node.name });
      for (const item of value as unknown[]) out += renderNodes(node.body, [...scopes, item], mode, template);
    }
  }
  return out;
}

function scalar(value: unknown, name: string, mode: TemplateMode, template: string | undefined): string {
  let text: string;
  if (value === null) text = '';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else if (value instanceof Date) text = value.toISOString();
  else throw new TemplateError(`Template variable "${name}" must be a string, number or boolean`, { template, variable: name });
  return mode === 'html' ? escapeHtml(text) : text;
}
