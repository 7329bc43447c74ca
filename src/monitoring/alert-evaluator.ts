import { ValidationError } from '../core/validation-error.js';

/**
 * One alert threshold on a named metric, with a duration and hysteresis.
 *
 * The alert fires once the metric has been past `threshold` for `forMs`, and resolves only once
 * it has been back past `resolveThreshold` (a little inside the threshold) for `resolveForMs`,
 * so a value hovering around the threshold does not make it flap.
 */
export interface AlertRule<M extends string = string> {
  /** The metric watched, e.g. `'eventLoopDelayP99Ms'`. */
  metric: M;
  /** The limit. */
  threshold: number;
  /** `'above'`: alert when the value is greater than `threshold`; `'below'`: when smaller. Default `'above'`. */
  direction?: 'above' | 'below';
  /** How long the breach must last before the alert fires, in ms. Default `0` (at once). */
  forMs?: number;
  /**
   * Where the value must return for the alert to resolve. Default 10% inside the threshold
   * (`threshold - 0.1·|threshold|` for `'above'`, `threshold + 0.1·|threshold|` for `'below'`).
   */
  resolveThreshold?: number;
  /** How long the value must stay back before the alert resolves, in ms. Default `forMs`. */
  resolveForMs?: number;
  /** Name used in events and logs. Default `"<metric> above <threshold>"`. */
  name?: string;
}

/** An `alert` or `alert:resolved` event. */
export interface AlertEvent {
  /** The rule's name. */
  readonly name: string;
  /** The metric watched. */
  readonly metric: string;
  /** The value that completed the transition. */
  readonly value: number;
  readonly threshold: number;
  readonly direction: 'above' | 'below';
  /** Epoch ms when the value first crossed (for `alert`) or came back (for `alert:resolved`). */
  readonly since: number;
  /** Epoch ms of the transition. */
  readonly at: number;
}

/** A state change reported by {@link AlertEvaluator.evaluate}. */
export interface AlertTransition {
  readonly type: 'alert' | 'alert:resolved';
  readonly event: AlertEvent;
}

interface RuleState {
  readonly rule: Required<Omit<AlertRule, 'name'>> & { name: string };
  firing: boolean;
  /** When the value started to point the other way (breach while ok, recovery while firing). */
  changingSince: number | undefined;
}

/**
 * Evaluates {@link AlertRule}s against successive metric readings and reports when alerts fire
 * and resolve. Time comes from the caller (`at`), so it can be driven by any clock.
 *
 * @example
 * ```ts
 * const alerts = new AlertEvaluator([{ metric: 'p95LatencyMs', threshold: 500, forMs: 30_000 }]);
 * for (const { type, event } of alerts.evaluate({ p95LatencyMs: 812 }, Date.now())) {
 *   console.log(type, event.name, event.value);
 * }
 * ```
 */
export class AlertEvaluator<M extends string = string> {
  private readonly states: RuleState[];

  /** @throws ValidationError when a rule is malformed (the message names the rule's field). */
  constructor(rules: readonly AlertRule<M>[], optionName = 'alerts') {
    this.states = rules.map((rule, index) => ({ rule: resolveRule(rule, `${optionName}[${index}]`), firing: false, changingSince: undefined }));
  }

  /** Names of the alerts currently firing. */
  get firing(): string[] {
    return this.states.filter((state) => state.firing).map((state) => state.rule.name);
  }

  /** Feeds one reading per metric taken at `at` (epoch ms); returns the transitions it caused. */
  evaluate(values: Partial<Readonly<Record<M, number>>>, at: number): AlertTransition[] {
    const transitions: AlertTransition[] = [];
    for (const state of this.states) {
      const { rule } = state;
      const value = (values as Record<string, number | undefined>)[rule.metric];
      if (value === undefined || Number.isNaN(value)) continue;
      const above = rule.direction === 'above';
      // While ok we watch for a breach; while firing, for a recovery past the resolve threshold.
      const moving = state.firing
        ? above ? value <= rule.resolveThreshold : value >= rule.resolveThreshold
        : above ? value > rule.threshold : value < rule.threshold;
      if (!moving) {
        state.changingSince = undefined;
        continue;
      }
      state.changingSince ??= at;
      const needed = state.firing ? rule.resolveForMs : rule.forMs;
      if (at - state.changingSince < needed) continue;
      const event: AlertEvent = {
        name: rule.name,
        metric: rule.metric,
        value,
        threshold: rule.threshold,
        direction: rule.direction,
        since: state.changingSince,
        at,
      };
      state.firing = !state.firing;
      state.changingSince = undefined;
      transitions.push({ type: state.firing ? 'alert' : 'alert:resolved', event });
    }
    return transitions;
  }
}

function resolveRule(rule: AlertRule, field: string): RuleState['rule'] {
  if (typeof rule.metric !== 'string' || rule.metric === '') throw new ValidationError(`${field}.metric`, 'must be a non-empty string');
  if (!Number.isFinite(rule.threshold)) throw new ValidationError(`${field}.threshold`, 'must be a finite number');
  const direction = rule.direction ?? 'above';
  if (direction !== 'above' && direction !== 'below') throw new ValidationError(`${field}.direction`, 'must be "above" or "below"');
  const forMs = rule.forMs ?? 0;
  if (!Number.isFinite(forMs) || forMs < 0) throw new ValidationError(`${field}.forMs`, 'must be a non-negative number');
  const resolveForMs = rule.resolveForMs ?? forMs;
  if (!Number.isFinite(resolveForMs) || resolveForMs < 0) throw new ValidationError(`${field}.resolveForMs`, 'must be a non-negative number');
  const margin = Math.abs(rule.threshold) * 0.1;
  const resolveThreshold = rule.resolveThreshold ?? (direction === 'above' ? rule.threshold - margin : rule.threshold + margin);
  if (!Number.isFinite(resolveThreshold) || (direction === 'above' ? resolveThreshold > rule.threshold : resolveThreshold < rule.threshold)) {
    throw new ValidationError(`${field}.resolveThreshold`, `must be a number on the safe side of the threshold (${direction === 'above' ? '<=' : '>='} ${rule.threshold})`);
  }
  return {
    metric: rule.metric,
    threshold: rule.threshold,
    direction,
    forMs,
    resolveThreshold,
    resolveForMs,
    name: rule.name ?? `${rule.metric} ${direction} ${rule.threshold}`,
  };
}
