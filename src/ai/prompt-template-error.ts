import { UxFlowError, type UxFlowErrorOptions } from '../core/uxflow-error.js';

/**
 * A prompt template could not be parsed or rendered: a variable is missing, extra, of the wrong
 * type, or the template uses syntax other than `{{name}}`. `variable` names the culprit.
 *
 * @example
 * ```ts
 * try { await optimizer.getPrompt('summarize', { variables: { txt: '…' } }); }
 * catch (e) { if (PromptTemplateError.isInstance(e)) console.log(e.variable); } // 'text'
 * ```
 */
export class PromptTemplateError extends UxFlowError {
  /** The variable at fault, when there is one. */
  readonly variable: string | undefined;
  /** The template concerned. */
  readonly template: string | undefined;

  constructor(message: string, info: { variable?: string; template?: string } = {}, options: UxFlowErrorOptions = {}) {
    super('ERR_PROMPT_TEMPLATE', message, { ...options, details: { ...info, ...options.details } });
    this.variable = info.variable;
    this.template = info.template;
  }

  /** True for a {@link PromptTemplateError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is PromptTemplateError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_PROMPT_TEMPLATE';
  }
}
