import { UxFlowError } from '../core/uxflow-error.js';

/**
 * A template could not be compiled or rendered: unknown template, bad syntax, or a variable
 * missing from the data (`variable` names it).
 *
 * @example
 * ```ts
 * catch (error) {
 *   if (TemplateError.isInstance(error)) console.error(error.template, error.variable);
 * }
 * ```
 */
export class TemplateError extends UxFlowError {
  /** The template's name, when known. */
  readonly template: string | undefined;
  /** The variable that was missing or invalid, when the error is about one. */
  readonly variable: string | undefined;

  constructor(message: string, info: { template?: string; variable?: string; cause?: unknown } = {}) {
    super('ERR_TEMPLATE', message, { cause: info.cause, details: { template: info.template, variable: info.variable } });
    this.template = info.template;
    this.variable = info.variable;
  }

  /** True for a {@link TemplateError} from any installed copy of the package. */
  static override isInstance(value: unknown): value is TemplateError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_TEMPLATE';
  }
}
