import type { EventEmitter } from 'node:events';
import type { Logger } from '../core/logger.js';
import type { AlertTransition } from './alert-evaluator.js';

/**
 * Emits an event so that a throwing listener cannot break the caller (a sampling timer, a
 * request): the error goes to the emitter's `'error'` listeners when it has any, else to the logger.
 *
 * @example
 * ```ts
 * emitSafely(this, this.logger, 'alert', event);
 * ```
 */
export function emitSafely(emitter: EventEmitter, logger: Logger, event: string, payload: unknown): void {
  try {
    emitter.emit(event, payload);
  } catch (error) {
    if (event !== 'error' && emitter.listenerCount('error') > 0) {
      try {
        emitter.emit('error', error);
        return;
      } catch (inner) {
        logger.error({ err: inner }, `an 'error' listener threw while handling a '${event}' listener error`);
      }
    }
    logger.error({ err: error }, `a '${event}' listener threw`);
  }
}

/**
 * Emits alert transitions as `alert` / `alert:resolved` events (safely), and logs them (warn /
 * info) when `log` is true.
 *
 * @example
 * ```ts
 * emitAlerts(this, this.logger, logAlerts, evaluator.evaluate(values, clock.now()));
 * ```
 */
export function emitAlerts(emitter: EventEmitter, logger: Logger, log: boolean, transitions: readonly AlertTransition[]): void {
  for (const { type, event } of transitions) {
    if (log) {
      if (type === 'alert') logger.warn({ alert: event }, `performance alert: ${event.name} (value ${event.value})`);
      else logger.info({ alert: event }, `performance alert resolved: ${event.name}`);
    }
    emitSafely(emitter, logger, type, event);
  }
}
