import type * as HtmlToText from 'html-to-text';
import { createSilentLogger, type Logger } from '../../core/logger.js';
import { ValidationError } from '../../core/validation-error.js';
import { TemplateError } from '../template-error.js';
import { BUILTIN_TEMPLATES, DEFAULT_LAYOUT } from './builtin-templates.js';
import { compileTemplate, type CompiledTemplate } from './compile-template.js';
import type { EmailTemplateDefinition } from './email-template-definition.js';

/** A rendered message body. */
export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

interface CompiledEmail {
  subject: CompiledTemplate;
  html: CompiledTemplate;
  text: CompiledTemplate;
}

/** Options of {@link TemplateRegistry}. */
export interface TemplateRegistryOptions {
  /** Register the built-in templates (welcome, verify-email, password-reset, workspace-invitation, notification-digest). Default `true`. */
  builtins?: boolean;
  /** Logs MJML validation warnings. Default silent. */
  logger?: Logger;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const PARTIAL = /\{\{>\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/**
 * Named templates, layouts and partials. Each template is compiled once, on first use: partials
 * and the layout are expanded, MJML is turned into responsive HTML, CSS is inlined (juice), the
 * plain-text part is derived from the HTML; rendering then only fills variables in.
 *
 * @example
 * ```ts
 * const registry = new TemplateRegistry();
 * registry.registerPartial('signature', '<mj-text>The {{productName}} team</mj-text>');
 * registry.register('order-shipped', {
 *   subject: 'Order {{orderId}} shipped',
 *   mjml: '<mj-section><mj-column><mj-text>Hi {{name}}</mj-text>{{> signature}}</mj-column></mj-section>',
 * });
 * const { subject, html, text } = await registry.render('order-shipped', { orderId: '42', name: 'Ada', productName: 'Flow' });
 * ```
 */
export class TemplateRegistry {
  private readonly templates = new Map<string, EmailTemplateDefinition>();
  private readonly layouts = new Map<string, string>();
  private readonly partials = new Map<string, string>();
  private readonly compiled = new Map<string, Promise<CompiledEmail>>();
  private readonly logger: Logger;

  constructor(options: TemplateRegistryOptions = {}) {
    this.logger = options.logger ?? createSilentLogger();
    this.layouts.set('default', DEFAULT_LAYOUT);
    if (options.builtins ?? true) {
      for (const [name, definition] of Object.entries(BUILTIN_TEMPLATES)) this.register(name, definition);
    }
  }

  /** Adds or replaces a template (its cached compilation is dropped). */
  register(name: string, definition: EmailTemplateDefinition): this {
    checkName('name', name);
    if (typeof definition !== 'object' || definition === null) throw new ValidationError(`templates.${name}`, 'must be an object');
    if (typeof definition.subject !== 'string') throw new ValidationError(`templates.${name}.subject`, 'must be a string');
    if ((definition.mjml === undefined) === (definition.html === undefined)) {
      throw new ValidationError(`templates.${name}`, 'must have exactly one of mjml or html');
    }
    this.templates.set(name, { ...definition });
    this.compiled.delete(name);
    return this;
  }

  /** Adds or replaces a layout: a full `<mjml>` document with a `{{> body}}` slot. */
  registerLayout(name: string, mjml: string): this {
    checkName('layout', name);
    if (typeof mjml !== 'string' || !/\{\{>\s*body\s*\}\}/.test(mjml)) throw new ValidationError(`layouts.${name}`, 'must contain {{> body}}');
    this.layouts.set(name, mjml);
    this.compiled.clear();
    return this;
  }

  /** Adds or replaces a partial, included with `{{> name}}`. */
  registerPartial(name: string, source: string): this {
    checkName('partial', name);
    if (name === 'body') throw new ValidationError('partial', '"body" is reserved for layouts');
    if (typeof source !== 'string') throw new ValidationError(`partials.${name}`, 'must be a string');
    this.partials.set(name, source);
    this.compiled.clear();
    return this;
  }

  /** True when `name` is registered. */
  has(name: string): boolean {
    return this.templates.has(name);
  }

  /** Registered template names. */
  names(): string[] {
    return [...this.templates.keys()];
  }

  /** Compiles `name` now (otherwise done on first render); rejects on any template error. */
  async precompile(name?: string): Promise<void> {
    const names = name === undefined ? this.names() : [name];
    await Promise.all(names.map((each) => this.compile(each)));
  }

  /**
   * Renders `name` with `data`.
   *
   * @throws TemplateError for an unknown template or a missing variable (named in `variable`).
   */
  async render(name: string, data: Readonly<Record<string, unknown>>): Promise<RenderedEmail> {
    const compiled = await this.compile(name);
    const text = compiled.text.render(data).replace(/[ \t]+\n/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
    return { subject: compiled.subject.render(data), html: compiled.html.render(data), text };
  }

  private compile(name: string): Promise<CompiledEmail> {
    let pending = this.compiled.get(name);
    if (pending === undefined) {
      pending = this.build(name);
      this.compiled.set(name, pending);
      pending.catch(() => this.compiled.delete(name));
    }
    return pending;
  }

  private async build(name: string): Promise<CompiledEmail> {
    const definition = this.templates.get(name);
    if (definition === undefined) throw new TemplateError(`Unknown email template "${name}"`, { template: name });
    let html: string;
    if (definition.mjml !== undefined) {
      let source = definition.mjml;
      const layoutName = definition.layout === undefined ? 'default' : definition.layout;
      if (!/^\s*<mjml[\s>]/.test(source) && layoutName !== null) {
        const layout = this.layouts.get(layoutName);
        if (layout === undefined) throw new TemplateError(`Unknown layout "${layoutName}"`, { template: name });
        source = layout.replace(/\{\{>\s*body\s*\}\}/, () => source);
      }
      source = this.expandPartials(source, name, 0);
      const { default: mjml2html } = await import('mjml');
      const result = await mjml2html(source, { validationLevel: 'soft', ignoreIncludes: true, keepComments: false });
      for (const error of result.errors) this.logger.warn({ template: name, line: error.line, tagName: error.tagName }, error.message);
      html = result.html;
    } else {
      html = this.expandPartials(definition.html ?? '', name, 0);
    }
    // Loaded on first compile, so importing the package stays cheap for services that never send mail.
    const [{ default: juice }, { convert }] = await Promise.all([import('juice'), import('html-to-text')]);
    html = juice(html, { preserveMediaQueries: true, preserveImportant: true, removeStyleTags: true });
    const htmlTemplate = compileTemplate(html, 'html', name);
    const text = compileTemplate(definition.text ?? htmlToText(convert, html), 'text', name);
    return { subject: compileTemplate(definition.subject, 'text', name), html: htmlTemplate, text };
  }

  private expandPartials(source: string, template: string, depth: number): string {
    if (depth > 10) throw new TemplateError('Partials nested more than 10 levels (a cycle?)', { template });
    return source.replace(PARTIAL, (_match, partial: string) => {
      const body = this.partials.get(partial);
      if (body === undefined) throw new TemplateError(`Unknown partial "${partial}"`, { template });
      return this.expandPartials(body, template, depth + 1);
    });
  }
}

/**
 * Plain text from HTML, keeping `{{…}}` tags intact so the text part is itself a template
 * (converted once, filled per message). Headings keep their case; lines are not wrapped.
 */
function htmlToText(convert: typeof HtmlToText.convert, html: string): string {
  const keepCase = { options: { uppercase: false } };
  return convert(html, {
    wordwrap: false,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, ...keepCase })),
      { selector: 'table', format: 'block' },
      { selector: 'tr', format: 'block' },
      { selector: 'td', format: 'block' },
      { selector: 'th', format: 'block' },
    ],
  })
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function checkName(field: string, name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new ValidationError(field, 'must match [A-Za-z0-9][A-Za-z0-9_.-]{0,99}');
}
