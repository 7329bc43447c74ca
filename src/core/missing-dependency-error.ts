import { UxFlowError } from './uxflow-error.js';

/**
 * An optional peer dependency is needed for the feature in use but is not installed.
 * The message says which package to install and why.
 *
 * @example
 * ```ts
 * // MissingDependencyError: The "ses" email provider needs "@aws-sdk/client-sesv2". Install it: npm install @aws-sdk/client-sesv2
 * ```
 */
export class MissingDependencyError extends UxFlowError {
  /** The npm package to install. */
  readonly packageName: string;

  constructor(packageName: string, feature: string, cause?: unknown) {
    super(
      'ERR_MISSING_DEPENDENCY',
      `${feature} needs "${packageName}". Install it: npm install ${packageName}`,
      { cause, details: { packageName, feature } },
    );
    this.packageName = packageName;
  }

  /** True for a {@link MissingDependencyError} from any installed copy of the package. */
  static override isInstance(this: void, value: unknown): value is MissingDependencyError {
    return UxFlowError.isInstance(value) && value.code === 'ERR_MISSING_DEPENDENCY';
  }
}
