import { describe, expect, it } from 'vitest';
import { PromptTemplateError } from '../../../src/ai/prompt-template-error.js';
import { compileTemplate, normalizeVariables, renderCompiled, renderTemplate } from '../../../src/ai/render-template.js';

function thrown(fn: () => unknown): PromptTemplateError {
  try {
    fn();
  } catch (error) {
    if (PromptTemplateError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('template rendering', () => {
  it('fills {{var}} placeholders, with or without inner spaces, as literal text', () => {
    expect(renderTemplate('Hi {{ name }}, {{name}}!', { name: '{{evil}} ${x}' })).toBe('Hi {{evil}} ${x}, {{evil}} ${x}!');
  });

  it('names a missing variable', () => {
    const error = thrown(() => renderTemplate('Hi {{name}}', {}));
    expect(error.variable).toBe('name');
    expect(error.code).toBe('ERR_PROMPT_TEMPLATE');
    expect(error.message).toContain('Missing variable "name"');
  });

  it('names an extra variable', () => {
    const error = thrown(() => renderTemplate('Hi {{name}}', { name: 'a', nmae: 'b' }));
    expect(error.variable).toBe('nmae');
    expect(error.message).toContain('Unexpected variable "nmae"');
  });

  it('rejects any syntax other than {{name}} (no expressions, helpers or code)', () => {
    expect(() => renderTemplate('{{ user.name }}', {})).toThrow(/Unsupported template syntax/);
    expect(() => renderTemplate('{{#if x}}y{{/if}}', {})).toThrow(/Unsupported template syntax/);
    expect(() => renderTemplate("{{ constructor.constructor('return 1')() }}", {})).toThrow(PromptTemplateError);
  });

  it('checks declared types and optional variables', () => {
    const variables = normalizeVariables({ n: 'number', flag: { type: 'boolean', required: false } });
    const compiled = compileTemplate({ template: '{{n}}:{{flag}}' }, variables);
    expect(renderCompiled(compiled, { n: 3 }).prompt).toBe('3:');
    expect(renderCompiled(compiled, { n: 3, flag: true }).prompt).toBe('3:true');
    expect(thrown(() => renderCompiled(compiled, { n: '3' })).variable).toBe('n');
  });

  it('refuses placeholders that are not declared', () => {
    const error = thrown(() => compileTemplate({ template: '{{a}} {{b}}' }, normalizeVariables(['a'])));
    expect(error.variable).toBe('b');
  });

  it('renders chat messages role by role', () => {
    const compiled = compileTemplate(
      { messages: [{ role: 'system', content: 'You are {{role}}.' }, { role: 'user', content: '{{question}}' }] },
      normalizeVariables(['role', 'question']),
    );
    expect(renderCompiled(compiled, { role: 'a tutor', question: 'Why?' }).messages).toEqual([
      { role: 'system', content: 'You are a tutor.' },
      { role: 'user', content: 'Why?' },
    ]);
  });
});
