import { describe, expect, it } from 'vitest';
import { escapeHtml, TemplateRegistry } from '../../../src/communication/index.js';
import { ValidationError } from '../../../src/core/index.js';
import { BUILTIN_TEMPLATES } from '../../../src/communication/templates/builtin-templates.js';

const samples: Record<string, Record<string, unknown>> = {
  welcome: { name: 'Ada', actionUrl: 'https://app.example.com/start' },
  'verify-email': { name: 'Ada', verifyUrl: 'https://app.example.com/verify?t=1', expiresInHours: 24 },
  'password-reset': { name: 'Ada', resetUrl: 'https://app.example.com/reset?t=1', expiresInMinutes: 30 },
  'workspace-invitation': { inviterName: 'Grace', workspaceName: 'Compilers', acceptUrl: 'https://app.example.com/accept' },
  'notification-digest': {
    name: 'Ada', count: 2, period: 'this week', manageUrl: 'https://app.example.com/settings',
    items: [{ title: 'A & B', url: 'https://app.example.com/a', summary: 'first' }, { title: 'C', url: 'https://app.example.com/c', summary: 'second' }],
  },
};

describe('TemplateRegistry', () => {
  it('renders from its compiled template exactly what a fresh registry renders, with no data carried between renders', async () => {
    const cached = new TemplateRegistry();
    const people = ['Ada', 'Grace <g@example.com>', 'Linus & Co', 'Émile'].map((name, index) => ({ productName: 'Flow', name, actionUrl: `https://app.example.com/start?u=${index}` }));
    // Interleaved and concurrent renders of one compiled template.
    const order = [...people, ...[...people].reverse()];
    const outputs = await Promise.all(order.map((data) => cached.render('welcome', data)));
    for (const [index, data] of order.entries()) {
      expect(outputs[index]).toEqual(await new TemplateRegistry().render('welcome', data));
      for (const other of people) if (other !== data) expect(outputs[index]!.html).not.toContain(escapeHtml(other.actionUrl));
    }
  });

  it.each(Object.keys(BUILTIN_TEMPLATES))('renders the built-in %s as responsive, inlined HTML with a text part', async (name) => {
    const registry = new TemplateRegistry();
    const out = await registry.render(name, { productName: 'Flow', ...samples[name] });
    expect(out.subject).toContain('Flow');
    expect(out.html).toMatch(/^<!doctype html>/i);
    expect(out.html).toContain('@media only screen'); // responsive rules survive inlining
    expect(out.html).toMatch(/<div style="[^"]*font-size:16px/); // mj-attributes inlined
    expect(out.html).toContain('lang="en"');
    expect(out.html).not.toContain('{{');
    expect(out.text).not.toContain('<');
    expect(out.text).not.toContain('{{');
    for (const value of Object.values(samples[name]!)) {
      if (typeof value === 'string' && value.startsWith('https://')) expect(out.text).toContain(value);
    }
  }, 30_000); // the first case loads MJML, juice and html-to-text cold: seconds on a busy machine

  it('names the missing variable of a built-in', async () => {
    const registry = new TemplateRegistry();
    await expect(registry.render('password-reset', { productName: 'Flow', name: 'Ada', expiresInMinutes: 30 })).rejects.toMatchObject({
      code: 'ERR_TEMPLATE',
      template: 'password-reset',
      variable: 'resetUrl',
    });
  });

  it('expands partials and custom layouts, and compiles each template once', async () => {
    const registry = new TemplateRegistry({ builtins: false });
    registry.registerPartial('sig', '<mj-text>— The {{team}} team</mj-text>');
    registry.registerLayout('plain', '<mjml><mj-body>{{> body}}</mj-body></mjml>');
    registry.register('note', { subject: 'Note for {{name}}', layout: 'plain', mjml: '<mj-section><mj-column><mj-text>Hi {{name}}</mj-text>{{> sig}}</mj-column></mj-section>' });
    const first = await registry.render('note', { name: 'Ada', team: 'Flow' });
    expect(first.subject).toBe('Note for Ada');
    expect(first.text).toContain('Hi Ada');
    expect(first.text).toContain('— The Flow team');
    const started = performance.now();
    for (let i = 0; i < 200; i++) await registry.render('note', { name: `U${i}`, team: 'Flow' });
    expect(performance.now() - started).toBeLessThan(2000); // 200 renders without recompiling MJML
  });

  it('inlines the CSS of plain HTML templates and uses a hand-written text part when given', async () => {
    const registry = new TemplateRegistry({ builtins: false });
    registry.register('plain', { subject: 's', html: '<html><head><style>p { color: red; }</style></head><body><p>Hi {{name}}</p></body></html>', text: 'Hello {{name}}' });
    const out = await registry.render('plain', { name: 'Ada' });
    expect(out.html).toContain('<p style="color: red;">Hi Ada</p>');
    expect(out.html).not.toContain('<style>');
    expect(out.text).toBe('Hello Ada');
  });

  it('reports unknown templates, partials and layouts, and validates definitions', async () => {
    const registry = new TemplateRegistry({ builtins: false });
    await expect(registry.render('nope', {})).rejects.toMatchObject({ code: 'ERR_TEMPLATE', template: 'nope' });
    registry.register('p', { subject: 's', html: '{{> missing}}' });
    await expect(registry.render('p', {})).rejects.toThrow(/Unknown partial "missing"/);
    registry.register('l', { subject: 's', layout: 'ghost', mjml: '<mj-section></mj-section>' });
    await expect(registry.render('l', {})).rejects.toThrow(/Unknown layout "ghost"/);
    expect(() => registry.register('x', { subject: 's' })).toThrow(ValidationError);
    expect(() => registry.register('../etc', { subject: 's', html: '' })).toThrow(ValidationError);
    expect(() => registry.registerLayout('bad', '<mjml></mjml>')).toThrow(/must contain/);
  });

  it('does not read files through mj-include', async () => {
    const registry = new TemplateRegistry({ builtins: false });
    registry.register('inc', { subject: 's', mjml: '<mjml><mj-body><mj-include path="/etc/passwd" /></mj-body></mjml>' });
    const out = await registry.render('inc', {});
    expect(out.html).not.toContain('root:');
  });
});
