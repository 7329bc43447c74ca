import { describe, expect, it } from 'vitest';
import { compileTemplate, escapeHtml, TemplateError } from '../../../src/communication/index.js';

describe('compileTemplate', () => {
  it('escapes variables in html mode and leaves them as they are in text mode', () => {
    const source = 'Hi {{user.name}} <a href="{{url}}">x</a>';
    const data = { user: { name: '<b>"Ada" & co</b>' }, url: 'https://x.example/?a=1&b=2' };
    expect(compileTemplate(source, 'html').render(data)).toBe(
      'Hi &lt;b&gt;&quot;Ada&quot; &amp; co&lt;/b&gt; <a href="https://x.example/?a&#61;1&amp;b&#61;2">x</a>',
    );
    expect(compileTemplate(source, 'text').render(data)).toBe('Hi <b>"Ada" & co</b> <a href="https://x.example/?a=1&b=2">x</a>');
  });

  it('names the missing variable, including nested paths', () => {
    const template = compileTemplate('{{a}} {{b.c}}', 'html', 'greeting');
    expect(() => template.render({ a: 1 })).toThrow(/Missing template variable "b.c"/);
    try {
      template.render({ a: 1, b: {} });
    } catch (error) {
      expect(TemplateError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'ERR_TEMPLATE', template: 'greeting', variable: 'b.c' });
    }
  });

  it('refuses triple braces and helper-like syntax at compile time', () => {
    expect(() => compileTemplate('{{{raw}}}', 'html')).toThrow(TemplateError);
    expect(() => compileTemplate('{{lookup . "constructor"}}', 'html')).toThrow(/Invalid variable/);
    expect(() => compileTemplate('{{&raw}}', 'html')).toThrow(/Unsupported tag/);
    expect(() => compileTemplate('{{#with x}}{{/with}}', 'html')).toThrow(TemplateError);
  });

  it('never reads prototype keys, from the template or the data', () => {
    expect(() => compileTemplate('{{constructor}}', 'html')).toThrow(/reserved key "constructor"/);
    expect(() => compileTemplate('{{a.__proto__}}', 'html')).toThrow(/reserved key/);
    const template = compileTemplate('{{toString}}{{hasOwnProperty}}', 'html');
    expect(() => template.render({})).toThrow(/Missing template variable "toString"/);
    const data = JSON.parse('{"__proto__": {"polluted": "yes"}, "x": 1}') as Record<string, unknown>;
    expect(() => compileTemplate('{{polluted}}', 'html').render(data)).toThrow(/Missing/);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('does not evaluate braces that arrive in the data', () => {
    const template = compileTemplate('{{name}}', 'html');
    expect(template.render({ name: '{{secret}} {{{x}}}' })).toBe('{{secret}} {{{x}}}');
  });

  it('loops with each (item fields shadow outer ones) and branches with if/else', () => {
    const template = compileTemplate('{{#each items}}[{{title}}:{{owner}}]{{/each}}{{#if none}}yes{{else}}no{{/if}}{{#if empty}}E{{/if}}', 'text');
    expect(template.render({ owner: 'o', items: [{ title: 'a' }, { title: 'b', owner: 'p' }], empty: [] })).toBe('[a:o][b:p]no');
    expect(compileTemplate('{{#each xs}}{{this}},{{/each}}', 'text').render({ xs: [1, 2] })).toBe('1,2,');
    expect(() => compileTemplate('{{#each xs}}', 'text')).toThrow(/Unclosed/);
    expect(() => compileTemplate('{{#each xs}}{{/if}}', 'text')).toThrow(/Unexpected/);
    expect(() => compileTemplate('{{#each xs}}{{/each}}', 'text').render({ xs: 'nope' })).toThrow(/must be an array/);
  });

  it('refuses objects as scalar values and escapes every HTML-significant character', () => {
    expect(() => compileTemplate('{{x}}', 'html').render({ x: { a: 1 } })).toThrow(/must be a string/);
    expect(escapeHtml(`<>&"'\`=`)).toBe('&lt;&gt;&amp;&quot;&#39;&#96;&#61;');
  });
});
