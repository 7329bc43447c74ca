import { createRequire } from 'node:module';
import { MissingDependencyError } from './missing-dependency-error.js';

/**
 * Loads an optional peer dependency on first use. When it is not installed, throws a
 * {@link MissingDependencyError} that names the package and the feature that needs it; any
 * other failure while loading (a broken install) is rethrown with its cause.
 *
 * `importer` lets bundlers see the specifier; pass `() => import('pkg')`.
 *
 * @example
 * ```ts
 * const { SESv2Client } = await loadOptional('@aws-sdk/client-sesv2', 'The "ses" email provider',
 *   () => import('@aws-sdk/client-sesv2'));
 * ```
 */
export async function loadOptional<T>(packageName: string, feature: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    if (isModuleNotFound(error, packageName)) throw new MissingDependencyError(packageName, feature, error);
    throw error;
  }
}

/**
 * True when `packageName` can be resolved from this package's location (no code is run).
 *
 * @example
 * ```ts
 * if (!isInstalled('@opentelemetry/exporter-zipkin')) logger.warn('Zipkin export disabled');
 * ```
 */
export function isInstalled(packageName: string): boolean {
  try {
    createRequire(import.meta.url).resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

function isModuleNotFound(error: unknown, packageName: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // Only the package itself missing, not one of its own dependencies.
  return typeof message === 'string' && (message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`));
}
