import type { Logger } from '../core/logger.js';
import type { JobErrorInfo } from './job.js';

/** A finished or failed job, as reported in events. */
export interface JobEvent {
  jobId: string;
  type: string;
  attempt: number;
}

/** The local events of a {@link MessageQueue} (this process only). */
export interface QueueEventMap {
  completed: JobEvent & { result: unknown; durationMs: number };
  /** An attempt failed; `willRetry` says whether another one follows. */
  failed: JobEvent & { error: JobErrorInfo; willRetry: boolean };
  retrying: JobEvent & { delayMs: number; error: JobErrorInfo };
  /** The job used all its attempts (or threw `UnrecoverableError`, or stalled too often). */
  dead: JobEvent & { error: JobErrorInfo };
  progress: JobEvent & { progress: unknown };
  /** The stalled checker moved jobs whose lock expired. */
  stalled: { recovered: string[]; failed: string[] };
  /** Every processor is idle and no job is waiting for them. */
  drained: Record<string, never>;
  error: Error;
}

/** A listener of event `E`. */
export type QueueListener<E extends keyof QueueEventMap> = (event: QueueEventMap[E]) => void;

/**
 * A small typed emitter; a throwing listener is reported on `error` (or, when an `error`
 * listener throws, to the logger) and never reaches the worker.
 */
export class QueueEvents {
  private readonly listeners = new Map<keyof QueueEventMap, Set<(event: never) => void>>();

  constructor(private readonly logger: Logger) {}

  on<E extends keyof QueueEventMap>(event: E, listener: QueueListener<E>): void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
  }

  off<E extends keyof QueueEventMap>(event: E, listener: QueueListener<E>): void {
    this.listeners.get(event)?.delete(listener);
  }

  has(event: keyof QueueEventMap): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  emit<E extends keyof QueueEventMap>(event: E, payload: QueueEventMap[E]): void {
    const set = this.listeners.get(event);
    if (set === undefined || set.size === 0) {
      if (event === 'error') this.logger.error({ err: payload }, 'queue error');
      return;
    }
    for (const listener of [...set]) {
      try {
        (listener as QueueListener<E>)(payload);
      } catch (error) {
        if (event === 'error') this.logger.error({ err: error }, 'queue error listener threw');
        else this.emit('error', error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
