import { UxFlowError, type UxFlowErrorOptions } from './uxflow-error.js';

/**
 * Bad input: an option, argument, environment variable or payload field that does not fit.
 * `field` names what was wrong (`"timeoutMs"`, `"REDIS_URL"`, `"to[2]"`), so callers can point at it.
 *
 * @example
 * ```ts
 * throw new ValidationError('timeoutMs', 'must be a positive integer', { details: { received: -1 } });
 * // ValidationError: "timeoutMs" must be a positive integer
 * ```
 */
export class ValidationError extends UxFlowError {
  /** The option, variable or field that was rejected. */
  readonly field: string;

  /**
   * @param field - what was wrong, quoted at the start of the message.
   * @param problem - what is wrong with it, e.g. `must be a positive integer`.
   */
  constructor(field: string, problem: string, options: UxFlowErrorOptions = {}) {
    super('ERR_VALIDATION', `"${field}" ${problem}`, {
      ...options,
      details: { field, ...options.details },
    });
    this.field = field;
  }

  /** True for a {@link ValidationError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is ValidationError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_VALIDATION';
  }
}
