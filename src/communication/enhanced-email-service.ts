import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitSnapshot } from '../core/circuit-breaker.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createSilentLogger, type Logger } from '../core/logger.js';
import { once } from '../core/once.js';
import { RateLimitError } from '../core/rate-limit-error.js';
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter, type RateLimitRule } from '../core/rate-limiter.js';
import {
  closeRedisConnection,
  createRedisConnection,
  isRedisClient,
  type RedisConnection,
  type RedisConnectionInput,
} from '../core/redis-connection.js';
import { UxFlowError } from '../core/uxflow-error.js';
import { ValidationError } from '../core/validation-error.js';
import { EmailError } from './email-error.js';
import { EMAIL_SEND_JOB, type EmailJobQueue, type EmailSendJobData } from './email-job-queue.js';
import { EmailProviderError } from './email-provider-error.js';
import { EmailMetrics, type MetricsRegistry } from './email-metrics.js';
import type { EmailStateStore, EmailStats, SuppressionReason } from './email-state-store.js';
import { guardRedis } from './guard-redis.js';
import { MemoryEmailStore } from './memory-email-store.js';
import { RedisEmailStore } from './redis-email-store.js';
import { parseEmailAddress, parseEmailAddressList, domainOf } from './parse-email-address.js';
import type { EmailBatchEntryResult, EmailBatchRecipient, EmailProvider } from './providers/email-provider.js';
import { rewriteLinks } from './rewrite-links.js';
import { assertHeaderSafe, validateAttachments, validateHeaders } from './safe-headers.js';
import { TemplateError } from './template-error.js';
import type { EmailTemplateDefinition } from './templates/email-template-definition.js';
import { TemplateRegistry } from './templates/template-registry.js';
import { RedisBatcher } from './redis-batcher.js';
import { TrackingSigner } from './tracking-signer.js';
import type {
  EmailAddress,
  EmailAddressInput,
  EmailAttachment,
  EmailEvent,
  OutgoingEmail,
  ProviderSendResult,
  SendEmailInput,
  SendEmailResult,
} from './types.js';
import { MailgunWebhookVerifier } from './webhooks/mailgun-webhook.js';
import { SendGridWebhookVerifier } from './webhooks/sendgrid-webhook.js';
import { SnsWebhookVerifier } from './webhooks/sns-webhook.js';
import { WebhookError } from './webhooks/webhook-error.js';

/** Tracking and one-click unsubscribe settings. */
export interface EmailTrackingOptions {
  /** Public URL where {@link EnhancedEmailService.router} is mounted, e.g. `'https://api.example.com/email'`. */
  baseUrl: string;
  /** HMAC secret(s), at least 32 bytes; the first signs, all verify (rotation). */
  secret: string | readonly string[];
  /** Add the open pixel by default. Default `true`. */
  opens?: boolean;
  /** Rewrite links by default. Default `true`. */
  clicks?: boolean;
}

/** Per-sender and per-recipient-domain caps; `false` turns one off. */
export interface EmailRateLimits {
  /** Default 1,000 per hour and 10,000 per day per sender address. */
  perSender?: readonly RateLimitRule[] | false;
  /** Default 500 per hour and 5,000 per day per recipient domain. */
  perRecipientDomain?: readonly RateLimitRule[] | false;
}

/** Webhook verification keys; a provider's endpoint answers 404 until configured. */
export interface EmailWebhookOptions {
  sendgrid?: { publicKey: string };
  mailgun?: { signingKey: string };
  ses?: { topicArns: readonly string[]; autoConfirm?: boolean };
  /** Accepted age of a signed request, in ms. Default 300 000 (5 minutes). */
  replayWindowMs?: number;
}

/** Options of {@link EnhancedEmailService}. */
export interface EnhancedEmailServiceOptions {
  /** Providers in failover order (see `createEmailProviders`). At least one. */
  providers: readonly EmailProvider[];
  /** Default sender. */
  defaultFrom: EmailAddressInput;
  /**
   * Where idempotency keys, the suppression list, message status and counters live. Wins over
   * every other choice; the service never closes it. Default: see {@link EnhancedEmailService}
   * (Redis when one is configured, else a `MemoryEmailStore`).
   */
  store?: EmailStateStore;
  /**
   * Redis for the default store and the caps: a client (kept open by `close()`), options or a
   * URL. Default: the queue's Redis client when the queue exposes one (`queue.redis`), else
   * `REDIS_URL` when set, else no Redis (state in the process).
   */
  redis?: RedisConnectionInput;
  /**
   * Longest wait for Redis per state operation (idempotency, suppression, caps, counters), in
   * ms. Past it, or at once while the connection is down or reconnecting, the send fails with
   * `EmailStateUnavailableError` (transient: a queued job is retried). Default `3000`.
   */
  redisTimeoutMs?: number;
  /** Where `REDIS_URL` is read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Key prefix of the Redis store and caps. Default `'uxflow'`. */
  prefix?: string;
  /** Extra templates (built-ins are always there unless `builtinTemplates: false`). */
  templates?: Readonly<Record<string, EmailTemplateDefinition>>;
  /** Extra layouts, each an `<mjml>` document with `{{> body}}`. */
  layouts?: Readonly<Record<string, string>>;
  /** Partials, included with `{{> name}}`. */
  partials?: Readonly<Record<string, string>>;
  /** Register the built-in templates. Default `true`. */
  builtinTemplates?: boolean;
  /** Data merged under every template's data, e.g. `{ productName: 'Flow' }`. Default `{}`. */
  templateDefaults?: Readonly<Record<string, unknown>>;
  /** Open/click tracking and one-click unsubscribe. Default off (no links rewritten, no List-Unsubscribe). */
  tracking?: EmailTrackingOptions;
  /** Sending caps. Default as documented in {@link EmailRateLimits}. */
  rateLimits?: EmailRateLimits;
  /** Webhook verification. */
  webhooks?: EmailWebhookOptions;
  /** How long an idempotency key is remembered after a send, in ms. Default 86 400 000 (24 h). */
  idempotencyTtlMs?: number;
  /** How long a key stays locked while its send is in flight, in ms. Default 300 000. */
  sendLockMs?: number;
  /**
   * A circuit breaker per provider: while one is open, failover skips that provider at once
   * instead of waiting for its timeout. Only transient failures count. `false` turns it off.
   * Default the core breaker's defaults (50% of ≥ 10 calls in 10 s opens it for 30 s).
   */
  circuitBreaker?: Omit<CircuitBreakerOptions, 'name' | 'isFailure' | 'clock' | 'logger'> | false;
  /** Allow `attachments[].path` from the file system (regular files up to 10 MB). Default `false`. */
  allowFileAttachments?: boolean;
  /** Allow `attachments[].path` as an `http(s)` URL. Default `false`. */
  allowUrlAttachments?: boolean;
  /** Queue for `queueEmail`; jobs are `email_send`. Its Redis client (`queue.redis`), when it has one, also holds the state unless `store` or `redis` says otherwise. Default none. */
  queue?: EmailJobQueue;
  /** Attempts per queued job. Default 5. */
  jobAttempts?: number;
  /** How often a queued message may be re-enqueued because of a rate limit before the job fails. Default 100. */
  maxDeferrals?: number;
  /**
   * A prom-client `Registry` (e.g. `performanceMonitor.registry`) to register the email metrics
   * on; see {@link EmailMetrics} for the series. Default none (no metrics).
   */
  metricsRegistry?: MetricsRegistry;
  logger?: Logger;
  clock?: Clock;
  /** `fetch` for URL attachments and SNS certificates. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/** One recipient of a bulk send. */
export interface BulkRecipient {
  to: EmailAddressInput;
  /** Per-recipient template data, merged over the shared data. */
  data?: Readonly<Record<string, unknown>>;
}

/** Options of {@link EnhancedEmailService.sendBulk}. */
export interface SendBulkOptions {
  /**
   * Messages sent concurrently per batch; with provider batching, recipients per provider
   * request (capped at the provider's `maxBatchSize`). Default 50, or the provider's
   * `maxBatchSize` with provider batching.
   */
  batchSize?: number;
  /** Data shared by every recipient. */
  data?: Readonly<Record<string, unknown>>;
  from?: EmailAddressInput;
  tags?: readonly string[];
  /** With a key, recipient `i` uses `${key}:${i}`, so re-running a bulk send never mails anyone twice. */
  idempotencyKey?: string;
  /** Adds List-Unsubscribe. Default `true` (requires `tracking`). */
  listUnsubscribe?: boolean;
  /** Called after each batch. */
  onProgress?: (progress: BulkProgress) => void;
  /**
   * Send each batch in one provider request when the first provider supports it (SendGrid:
   * 1,000 personalizations; Mailgun: 1,000 recipients with `recipient-variables`; SES:
   * SendBulkEmail with 50 destinations). Every recipient gets the same content (no
   * per-recipient `data`, no click/open tracking); each still gets its own message id,
   * idempotency key and List-Unsubscribe header. `'auto'` batches only when that changes
   * nothing for the recipients: the provider supports it, no recipient has its own `data`, and
   * click/open tracking is off. `true` requires batching (a `ValidationError` when impossible);
   * `false` sends one message per recipient. Default `'auto'`.
   */
  providerBatching?: boolean | 'auto';
}

/** Progress of a bulk send. */
export interface BulkProgress {
  total: number;
  done: number;
  sent: number;
  failed: number;
  suppressed: number;
}

/** The outcome of a bulk send. */
export interface BulkSendResult extends BulkProgress {
  results: readonly SendEmailResult[];
  /** Recipients skipped because they are suppressed. */
  skipped: readonly string[];
  failures: readonly { to: string; error: Error }[];
}

/** Events of {@link EnhancedEmailService}. */
export interface EnhancedEmailServiceEvents {
  sent: [result: SendEmailResult, message: OutgoingEmail];
  failed: [error: Error, message: OutgoingEmail];
  event: [event: EmailEvent];
  error: [error: unknown];
}

interface ValidatedFields {
  to: EmailAddress[];
  cc: EmailAddress[];
  bcc: EmailAddress[];
  from: EmailAddress;
  replyTo: EmailAddress | undefined;
  headers: Record<string, string>;
  attachments: EmailAttachment[];
}

/** A Node/Express request handler, as the tracking and webhook routes are served. */
export type EmailRequestHandler = (req: IncomingMessage & { body?: unknown; rawBody?: unknown }, res: ServerResponse, next?: (error?: unknown) => void) => void;

const TAG = /^[A-Za-z0-9_.-]{1,64}$/;
const DEFAULT_SENDER_RULES: readonly RateLimitRule[] = [{ limit: 1000, windowMs: 3_600_000 }, { limit: 10_000, windowMs: 86_400_000 }];
const DEFAULT_DOMAIN_RULES: readonly RateLimitRule[] = [{ limit: 500, windowMs: 3_600_000 }, { limit: 5000, windowMs: 86_400_000 }];
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const MAX_BODY = 1024 * 1024;
const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/**
 * Sends email through an ordered list of providers with failover, templates, idempotency keys,
 * a suppression list, per-sender and per-domain caps, signed open/click tracking, one-click
 * unsubscribe, verified provider webhooks and analytics. Sends directly, or through a queue as
 * `email_send` jobs.
 *
 * State (idempotency keys, suppression list, caps, message status, counters) is chosen once, at
 * construction, first match wins:
 * 1. `store`: that store (the caps use `redis` when given, or the store's client for a
 *    `RedisEmailStore`, else memory);
 * 2. `redis`: a `RedisEmailStore` and Redis caps on it;
 * 3. the queue's Redis (`queue.redis`, when the queue exposes its client);
 * 4. `REDIS_URL`, when set in `env`;
 * 5. otherwise a `MemoryEmailStore` and in-memory caps, with one info log line: state is per
 *    process (fine for development, tests and a single instance).
 *
 * Redis the service connects to itself fails a command after one reconnect attempt, and every
 * state operation is bounded by `redisTimeoutMs`: with Redis away, a send fails fast with
 * `EmailStateUnavailableError` (`ERR_REDIS`) and nothing is sent or marked sent.
 *
 * @example
 * ```ts
 * const email = new EnhancedEmailService({
 *   providers: [new SmtpProvider({ host: 'smtp.example.com', port: 587 }), new SendGridProvider({ apiKey })],
 *   defaultFrom: 'Flow <hello@example.com>',
 *   redis,
 *   templateDefaults: { productName: 'Flow' },
 *   tracking: { baseUrl: 'https://api.example.com/email', secret: process.env.EMAIL_TRACKING_SECRET! },
 * });
 * app.use('/email', email.router());
 * await email.send({ to: 'ada@example.com', template: 'welcome', data: { name: 'Ada', actionUrl: 'https://app.example.com' } });
 * ```
 */
export class EnhancedEmailService extends EventEmitter<EnhancedEmailServiceEvents> {
  /** The template registry (add templates, layouts and partials at any time). */
  readonly templates: TemplateRegistry;
  /** The state store in use (suppression list, idempotency keys, stats). */
  readonly store: EmailStateStore;
  private readonly providers: readonly EmailProvider[];
  private readonly breakers: readonly (CircuitBreaker | undefined)[];
  private readonly defaultFrom: EmailAddress;
  /** The Redis connection of the default store and the caps; `undefined` when state is in the process. */
  private readonly connection: RedisConnection | undefined;
  private readonly redisTimeoutMs: number;
  private readonly templateDefaults: Readonly<Record<string, unknown>>;
  private readonly tracking: { baseUrl: string; signer: TrackingSigner; opens: boolean; clicks: boolean } | undefined;
  private readonly senderLimiter: RateLimiter | undefined;
  private readonly domainLimiter: RateLimiter | undefined;
  private readonly idempotencyTtlMs: number;
  private readonly sendLockMs: number;
  private readonly policy: { allowFileAttachments: boolean; allowUrlAttachments: boolean };
  private readonly queue: EmailJobQueue | undefined;
  private readonly jobAttempts: number;
  private readonly maxDeferrals: number;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly fetch: typeof fetch;
  private readonly replayWindowMs: number;
  private readonly sendgridWebhook: SendGridWebhookVerifier | undefined;
  private readonly mailgunWebhook: MailgunWebhookVerifier | undefined;
  private readonly snsWebhook: SnsWebhookVerifier | undefined;
  private readonly metrics: EmailMetrics | undefined;

  constructor(options: EnhancedEmailServiceOptions) {
    super();
    if (!Array.isArray(options.providers) || options.providers.length === 0) throw new ValidationError('providers', 'must list at least one provider');
    this.providers = [...(options.providers as readonly EmailProvider[])];
    this.defaultFrom = parseEmailAddress(options.defaultFrom, 'defaultFrom');
    this.logger = options.logger ?? createSilentLogger();
    this.clock = options.clock ?? systemClock;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.idempotencyTtlMs = positive('idempotencyTtlMs', options.idempotencyTtlMs ?? 86_400_000);
    this.sendLockMs = positive('sendLockMs', options.sendLockMs ?? 300_000);
    this.jobAttempts = positive('jobAttempts', options.jobAttempts ?? 5);
    this.maxDeferrals = positive('maxDeferrals', options.maxDeferrals ?? 100);
    this.replayWindowMs = positive('webhooks.replayWindowMs', options.webhooks?.replayWindowMs ?? 300_000);
    this.policy = { allowFileAttachments: options.allowFileAttachments ?? false, allowUrlAttachments: options.allowUrlAttachments ?? false };
    this.templateDefaults = { ...options.templateDefaults };
    this.queue = options.queue;
    this.metrics = options.metricsRegistry === undefined ? undefined : EmailMetrics.for(options.metricsRegistry);
    const prefix = options.prefix ?? 'uxflow';

    const breakerOptions = options.circuitBreaker;
    this.breakers = this.providers.map((provider, index) =>
      breakerOptions === false
        ? undefined
        : new CircuitBreaker({
            ...breakerOptions,
            name: `email:${provider.name}:${index}`,
            isFailure: (error) => !EmailProviderError.isInstance(error) || error.failure === 'transient',
            clock: this.clock,
            logger: this.logger,
          }),
    );

    this.templates = new TemplateRegistry({ builtins: options.builtinTemplates ?? true, logger: this.logger });
    for (const [name, source] of Object.entries(options.partials ?? {})) this.templates.registerPartial(name, source);
    for (const [name, source] of Object.entries(options.layouts ?? {})) this.templates.registerLayout(name, source);
    for (const [name, definition] of Object.entries(options.templates ?? {})) this.templates.register(name, definition);

    if (options.tracking !== undefined) {
      const { baseUrl } = options.tracking;
      let parsed: URL;
      try {
        parsed = new URL(baseUrl);
      } catch (cause) {
        throw new ValidationError('tracking.baseUrl', 'must be an absolute URL', { cause });
      }
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ValidationError('tracking.baseUrl', 'must be http(s)');
      const secrets = typeof options.tracking.secret === 'string' ? [options.tracking.secret] : [...options.tracking.secret];
      this.tracking = {
        baseUrl: baseUrl.replace(/\/+$/, ''),
        signer: new TrackingSigner(secrets),
        opens: options.tracking.opens ?? true,
        clicks: options.tracking.clicks ?? true,
      };
    }

    const webhooks = options.webhooks ?? {};
    this.sendgridWebhook = webhooks.sendgrid === undefined ? undefined : new SendGridWebhookVerifier(webhooks.sendgrid);
    this.mailgunWebhook = webhooks.mailgun === undefined ? undefined : new MailgunWebhookVerifier(webhooks.mailgun);
    this.snsWebhook = webhooks.ses === undefined ? undefined : new SnsWebhookVerifier({ ...webhooks.ses, fetch: this.fetch });

    this.redisTimeoutMs = positive('redisTimeoutMs', options.redisTimeoutMs ?? 3000);
    const state = resolveState(options);
    this.connection = state.redis === undefined ? undefined : createRedisConnection(state.redis);
    const redis = this.connection?.client;
    if (this.connection?.owned === true && redis !== undefined) {
      // One warning per outage instead of ioredis's console output on every reconnect attempt.
      let down = false;
      redis.on('error', (error: unknown) => {
        if (down) return;
        down = true;
        this.logger.warn({ err: error }, 'email state Redis connection lost; sends fail with ERR_REDIS until it is back');
      });
      redis.on('ready', () => {
        if (down) this.logger.info('email state Redis connection is back');
        down = false;
      });
    }
    if (options.store !== undefined) {
      this.store = options.store;
    } else if (redis !== undefined) {
      this.store = new RedisEmailStore({ redis, prefix, timeoutMs: this.redisTimeoutMs });
    } else {
      this.store = new MemoryEmailStore({ clock: this.clock });
    }
    this.logger.info(
      { store: state.source, redis: redis !== undefined },
      redis === undefined && options.store === undefined
        ? 'email state is per process (no Redis configured): idempotency keys, suppressions, caps and stats are not shared between instances'
        : `email state: ${state.source}`,
    );
    const limiter = (name: string, rules: readonly RateLimitRule[] | false | undefined, defaults: readonly RateLimitRule[]): RateLimiter | undefined => {
      if (rules === false) return undefined;
      const settings = { rules: rules ?? defaults, clock: this.clock };
      if (redis === undefined) return new MemoryRateLimiter(settings);
      // The caps' scripts go out in the same pipelines as the store's commands (single-node Redis).
      return new RedisRateLimiter({ ...settings, redis: RedisBatcher.for(redis)?.client ?? redis, name, prefix });
    };
    this.senderLimiter = limiter('email-sender', options.rateLimits?.perSender, DEFAULT_SENDER_RULES);
    this.domainLimiter = limiter('email-domain', options.rateLimits?.perRecipientDomain, DEFAULT_DOMAIN_RULES);
  }

  /**
   * Sends one message now. Validates everything first (addresses with nodemailer's parser, no
   * CR/LF in any header, attachment sources), renders the template, then: idempotency key,
   * suppression list, rate limits, and the providers in order (transient failures fail over).
   *
   * @throws ValidationError for bad input, TemplateError for template problems, RateLimitError
   * (with `retryAfterMs`) over a cap, EmailError when no provider delivered.
   */
  async send(input: SendEmailInput): Promise<SendEmailResult> {
    const message = await this.prepare(input);
    const key = input.idempotencyKey;
    if (key !== undefined) {
      const claim = await this.store.claimIdempotency(key, message.messageId, this.sendLockMs);
      if (claim.state === 'sent') return { ...claim.result, status: 'duplicate' };
      if (claim.state === 'pending') {
        throw new EmailError(`A send with idempotency key "${key}" is already in flight`, [
          new EmailProviderError('idempotency', 'transient', 'in flight', { retryAfterMs: 1000 }),
        ]);
      }
    }
    try {
      const result = await this.deliver(message);
      if (key !== undefined) await this.store.completeIdempotency(key, result, this.idempotencyTtlMs);
      return result;
    } catch (error) {
      if (key !== undefined) await this.store.releaseIdempotency(key).catch((cause: unknown) => this.emitError(cause));
      throw error;
    }
  }

  /**
   * Sends one template to many recipients, `batchSize` at a time, skipping suppressed addresses
   * (reported in `skipped`). Failures are collected, not thrown; `onProgress` runs after each batch.
   */
  async sendBulk(recipients: readonly (BulkRecipient | EmailAddressInput)[], template: string, options: SendBulkOptions = {}): Promise<BulkSendResult> {
    if (!this.templates.has(template)) throw new TemplateError(`Unknown email template "${template}"`, { template });
    if (options.batchSize !== undefined && (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > 1000)) {
      throw new ValidationError('batchSize', 'must be an integer from 1 to 1000');
    }
    const batchSize = options.batchSize ?? 50;
    const entries = recipients.map((entry, index) => {
      const isBulk = typeof entry === 'object' && 'to' in entry;
      const to = parseEmailAddress(isBulk ? entry.to : entry, `recipients[${index}]`);
      return { index, to, data: isBulk ? entry.data : undefined };
    });
    const progress: BulkProgress = { total: entries.length, done: 0, sent: 0, failed: 0, suppressed: 0 };
    const results: SendEmailResult[] = [];
    const skipped: string[] = [];
    const failures: { to: string; error: Error }[] = [];
    const batchProvider = this.batchProvider(entries, options.providerBatching ?? 'auto');
    if (batchProvider !== undefined) {
      const size = Math.min(options.batchSize ?? batchProvider.maxBatchSize ?? 1000, batchProvider.maxBatchSize ?? 1000);
      await this.sendBulkBatched(entries, template, options, size, { progress, results, skipped, failures });
      return { ...progress, results, skipped, failures };
    }
    for (let start = 0; start < entries.length; start += batchSize) {
      const batch = entries.slice(start, start + batchSize);
      const suppressed = await this.store.suppressedAmong(batch.map((entry) => entry.to.address));
      this.metrics?.suppressed(template, suppressed.size);
      const outcomes = await Promise.allSettled(
        batch.map(async (entry) => {
          if (suppressed.has(entry.to.address.toLowerCase())) return undefined;
          return this.send({
            to: entry.to,
            template,
            data: { ...options.data, ...entry.data },
            ...(options.from === undefined ? {} : { from: options.from }),
            ...(options.tags === undefined ? {} : { tags: options.tags }),
            ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: `${options.idempotencyKey}:${entry.index}` }),
            listUnsubscribe: (options.listUnsubscribe ?? true) && this.tracking !== undefined,
          });
        }),
      );
      outcomes.forEach((outcome, offset) => {
        const entry = batch[offset];
        if (entry === undefined) return;
        progress.done++;
        if (outcome.status === 'rejected') {
          progress.failed++;
          failures.push({ to: entry.to.address, error: outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason)) });
        } else if (outcome.value === undefined || outcome.value.status === 'suppressed') {
          progress.suppressed++;
          skipped.push(entry.to.address);
        } else {
          progress.sent++;
          results.push(outcome.value);
        }
      });
      try {
        options.onProgress?.({ ...progress });
      } catch (error) {
        this.emitError(error);
      }
    }
    return { ...progress, results, skipped, failures };
  }

  /**
   * Validates a message and enqueues it as an `email_send` job (requires a queue). The job id is
   * the idempotency key (generated when absent), so a retried job never sends twice.
   *
   * @returns the job id.
   */
  async queueEmail(input: SendEmailInput, options: { delayMs?: number } = {}): Promise<string> {
    if (this.queue === undefined) throw new ValidationError('queue', 'is not configured; use send() or pass a queue');
    this.validateInput(input);
    if (input.template !== undefined && !this.templates.has(input.template)) {
      throw new TemplateError(`Unknown email template "${input.template}"`, { template: input.template });
    }
    const idempotencyKey = input.idempotencyKey ?? randomUUID();
    const data: EmailSendJobData = { v: 1, message: { ...input, idempotencyKey, ...serializableAttachments(input.attachments) } };
    return this.queue.add(EMAIL_SEND_JOB, data, {
      jobId: `email:${idempotencyKey}`,
      attempts: this.jobAttempts,
      ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
    });
  }

  /**
   * The `email_send` job processor. Transient failures rethrow (the queue retries); permanent
   * ones (bad input, template errors, permanent provider errors) throw with code
   * `ERR_JOB_UNRECOVERABLE` so the job fails without retries. Over a rate limit the message is
   * re-enqueued with `delayMs = retryAfterMs` under the same idempotency key and the job
   * completes as `deferred` (no attempt is burnt); without a queue the `RateLimitError` is thrown.
   */
  async processSendEmail(jobData: unknown): Promise<SendEmailResult> {
    const job = jobData as Partial<EmailSendJobData> | null;
    const message = job?.message;
    if (typeof message !== 'object' || message === null) {
      throw new UxFlowError('ERR_JOB_UNRECOVERABLE', 'email_send job data has no message', { cause: new ValidationError('jobData.message', 'must be an object') });
    }
    try {
      return await this.send(message);
    } catch (error) {
      if (RateLimitError.isInstance(error)) {
        const deferrals = (typeof job?.deferrals === 'number' ? job.deferrals : 0) + 1;
        if (this.queue === undefined || typeof message.idempotencyKey !== 'string' || deferrals > this.maxDeferrals) throw error;
        const next: EmailSendJobData = { v: 1, message: { ...message, idempotencyKey: message.idempotencyKey }, deferrals };
        await this.queue.add(EMAIL_SEND_JOB, next, {
          jobId: `email:${message.idempotencyKey}:d${deferrals}`,
          attempts: this.jobAttempts,
          delayMs: Math.max(1, error.retryAfterMs),
        });
        this.logger.info({ idempotencyKey: message.idempotencyKey, delayMs: error.retryAfterMs, key: error.key }, 'email deferred by rate limit');
        return { messageId: '', status: 'deferred', provider: undefined, providerMessageId: undefined, accepted: [], rejected: [], suppressed: [] };
      }
      const permanent =
        ValidationError.isInstance(error) || TemplateError.isInstance(error) || (EmailError.isInstance(error) && !error.transient);
      if (permanent) throw new UxFlowError('ERR_JOB_UNRECOVERABLE', `email_send failed permanently: ${(error as Error).message}`, { cause: error });
      throw error;
    }
  }

  /** The state of each provider's circuit breaker, in failover order (empty when disabled). */
  providerHealth(): CircuitSnapshot[] {
    return this.breakers.filter((breaker): breaker is CircuitBreaker => breaker !== undefined).map((breaker) => breaker.snapshot());
  }

  /** Adds an address to the suppression list (it is never mailed again until removed). */
  async suppress(address: string, reason: SuppressionReason = 'manual'): Promise<void> {
    const parsed = parseEmailAddress(address, 'address');
    await this.store.suppress(parsed.address, reason, this.clock.now());
  }

  /** Removes an address from the suppression list. */
  async unsuppress(address: string): Promise<boolean> {
    return this.store.unsuppress(parseEmailAddress(address, 'address').address);
  }

  /** Sent, delivered, bounced, opened, clicked, complained and unsubscribed counts per template, tag and day. Default the last 7 days. */
  async getStats(options: { fromMs?: number; toMs?: number } = {}): Promise<EmailStats> {
    const toMs = options.toMs ?? this.clock.now();
    return this.store.getStats(options.fromMs ?? toMs - 6 * 86_400_000, toMs);
  }

  /**
   * A Connect/Express-compatible handler for tracking and webhooks, mounted at `tracking.baseUrl`:
   * `GET /t/o/<token>.gif` (open pixel), `GET /t/c/<token>` (click: 302 to the signed URL, 400 for
   * any invalid token, never a redirect), `GET|POST /u/<token>` (one-click unsubscribe, RFC 8058),
   * `POST /webhooks/sendgrid|mailgun|ses` (verified against the raw body). Other paths go to `next`.
   * Mount it before any body parser, or use `express.raw()` for the webhook paths.
   */
  router(): EmailRequestHandler {
    return (req, res, next) => {
      this.handle(req, res).then(
        (handled) => {
          if (!handled) {
            if (next === undefined) send(res, 404, 'Not found');
            else next();
          }
        },
        (error: unknown) => {
          this.emitError(error);
          if (!res.headersSent) send(res, 500, 'Internal error');
        },
      );
    };
  }

  /** Applies a verified event: status, counters, and suppression for hard bounces, complaints and unsubscribes. */
  async recordEvent(event: EmailEvent): Promise<boolean> {
    if (!(await this.store.firstSeen('event', `${event.source}:${event.eventId}`, 7 * 86_400_000))) return false;
    await this.store.recordEvent(event);
    const reason: SuppressionReason | undefined =
      event.type === 'complained' ? 'complaint' : event.type === 'unsubscribed' ? 'unsubscribe' : event.type === 'bounced' && event.bounce === 'hard' ? 'hard-bounce' : undefined;
    if (reason !== undefined && event.recipient !== undefined) await this.store.suppress(event.recipient, reason, event.timestamp);
    this.metrics?.event(event.type, event.source);
    this.safeEmit('event', event);
    return true;
  }

  /** Closes provider connections and the Redis client if the service created it. Idempotent. */
  readonly close = once(async (): Promise<void> => {
    await Promise.allSettled(this.providers.map(async (provider) => provider.close?.()));
    await this.store.flush();
    if (this.connection !== undefined) await closeRedisConnection(this.connection);
  });

  /** Bounds a cap check on Redis like the store's operations (a memory limiter answers at once). */
  private guardLimits<T>(check: () => Promise<T>): Promise<T> {
    const redis = this.connection?.client;
    return redis === undefined ? check() : guardRedis(redis, this.redisTimeoutMs, 'rateLimit', check);
  }

  /** The provider bulk mail is batched on, or `undefined` to send one message per recipient. */
  private batchProvider(entries: readonly { data: unknown }[], mode: boolean | 'auto'): EmailProvider | undefined {
    if (mode === false) return undefined;
    const provider = this.providers[0] as EmailProvider;
    const perRecipientData = entries.some((entry) => entry.data !== undefined);
    const tracked = this.tracking !== undefined && (this.tracking.clicks || this.tracking.opens);
    if (mode === true) {
      if (provider.sendBatch === undefined) throw new ValidationError('providerBatching', `is not supported by the "${provider.name}" provider`);
      if (perRecipientData) throw new ValidationError('providerBatching', 'needs the same data for every recipient');
      return provider;
    }
    return provider.sendBatch === undefined || perRecipientData || tracked ? undefined : provider;
  }

  private async sendBulkBatched(
    entries: readonly { index: number; to: EmailAddress; data: Readonly<Record<string, unknown>> | undefined }[],
    template: string,
    options: SendBulkOptions,
    size: number,
    out: { progress: BulkProgress; results: SendEmailResult[]; skipped: string[]; failures: { to: string; error: Error }[] },
  ): Promise<void> {
    const first = entries[0];
    if (first === undefined) return;
    const content = await this.prepare({
      to: first.to,
      template,
      trackOpens: false,
      trackClicks: false,
      ...(options.data === undefined ? {} : { data: options.data }),
      ...(options.from === undefined ? {} : { from: options.from }),
      ...(options.tags === undefined ? {} : { tags: options.tags }),
    });
    const withUnsubscribe = (options.listUnsubscribe ?? true) && this.tracking !== undefined;
    for (const chunk of uniqueChunks(entries, size)) {
      const suppressed = await this.store.suppressedAmong(chunk.map((entry) => entry.to.address));
      const active: { index: number; to: EmailAddress; key: string | undefined; messageId: string }[] = [];
      for (const entry of chunk) {
        out.progress.done++;
        if (suppressed.has(entry.to.address.toLowerCase())) {
          out.progress.suppressed++;
          out.skipped.push(entry.to.address);
        } else {
          const key = options.idempotencyKey === undefined ? undefined : `${options.idempotencyKey}:${entry.index}`;
          active.push({ index: entry.index, to: entry.to, key, messageId: randomUUID() });
        }
      }
      this.metrics?.suppressed(template, suppressed.size);
      // Idempotency keys of the whole chunk in one round trip: recipients a previous run already
      // mailed come back as duplicates and are not sent again.
      const keyed = active.filter((entry): entry is typeof entry & { key: string } => entry.key !== undefined);
      const claims = await this.store.claimIdempotencyMany(keyed, this.sendLockMs);
      const refused = new Set<string>();
      keyed.forEach((entry, position) => {
        const claim = claims[position];
        if (claim === undefined || claim.state === 'claimed') return;
        refused.add(entry.key);
        if (claim.state === 'sent') {
          out.progress.sent++;
          out.results.push({ ...claim.result, status: 'duplicate' });
        } else {
          out.progress.failed++;
          out.failures.push({ to: entry.to.address, error: new EmailError(`A send with idempotency key "${entry.key}" is already in flight`, []) });
        }
      });
      const claimed = active.filter((entry) => entry.key === undefined || !refused.has(entry.key));
      if (claimed.length > 0) await this.sendChunk(content, claimed, withUnsubscribe, out);
      try {
        options.onProgress?.({ ...out.progress });
      } catch (error) {
        this.emitError(error);
      }
    }
  }

  private async sendChunk(
    content: OutgoingEmail,
    claimed: readonly { to: EmailAddress; key: string | undefined; messageId: string }[],
    withUnsubscribe: boolean,
    out: { progress: BulkProgress; results: SendEmailResult[]; failures: { to: string; error: Error }[] },
  ): Promise<void> {
    const recipients: EmailBatchRecipient[] = claimed.map((entry) => ({
      messageId: entry.messageId,
      to: entry.to,
      headers: withUnsubscribe ? this.unsubscribeHeaders(entry.to.address, 'default', entry.messageId).headers : {},
    }));
    let outcome: { provider: string; entries: readonly EmailBatchEntryResult[] };
    try {
      await this.checkBatchLimits(content.from.address, recipients.map((recipient) => recipient.to.address));
      outcome = await this.sendBatchWithFailover(content, recipients);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const entry of claimed) {
        out.progress.failed++;
        out.failures.push({ to: entry.to.address, error: failure });
      }
      await this.store.releaseIdempotencyMany(claimed.flatMap((entry) => (entry.key === undefined ? [] : [entry.key]))).catch((cause: unknown) => this.emitError(cause));
      return;
    }
    const now = this.clock.now();
    const completed: { key: string; result: SendEmailResult }[] = [];
    const released: string[] = [];
    const sent: { messageId: string; template: string | undefined; tags: readonly string[]; at: number }[] = [];
    claimed.forEach((entry, index) => {
      const result = outcome.entries[index];
      if (result?.status !== 'accepted') {
        const error = result?.error ?? new EmailProviderError(outcome.provider, 'transient', 'no result for this recipient');
        out.progress.failed++;
        out.failures.push({ to: entry.to.address, error: new EmailError(`Email ${entry.messageId} was not sent: ${error.message}`, [error]) });
        if (entry.key !== undefined) released.push(entry.key);
        return;
      }
      const sendResult: SendEmailResult = {
        messageId: entry.messageId,
        status: 'sent',
        provider: outcome.provider,
        providerMessageId: result.providerMessageId,
        accepted: [entry.to.address],
        rejected: [],
        suppressed: [],
      };
      out.progress.sent++;
      out.results.push(sendResult);
      if (entry.key !== undefined) completed.push({ key: entry.key, result: sendResult });
      sent.push({ messageId: entry.messageId, template: content.template, tags: content.tags, at: now });
      if (this.listenerCount('sent') > 0) this.safeEmit('sent', sendResult, { ...content, messageId: entry.messageId, to: [entry.to], cc: [], bcc: [] });
    });
    this.metrics?.sent(outcome.provider, content.template, sent.length);
    this.metrics?.failed(outcome.provider, content.template, claimed.length - sent.length);
    await Promise.all([
      this.store.completeIdempotencyMany(completed, this.idempotencyTtlMs),
      this.store.releaseIdempotencyMany(released),
      this.store.recordSentMany(sent),
    ]).catch((error: unknown) => this.emitError(error));
  }

  /**
   * One batch through the providers in order: a provider with `sendBatch` takes the batch in
   * requests of its `maxBatchSize`; one without gets a message per recipient. A transient
   * failure of a whole request moves on to the next provider, a permanent one stops.
   */
  private async sendBatchWithFailover(content: OutgoingEmail, recipients: readonly EmailBatchRecipient[]): Promise<{ provider: string; entries: readonly EmailBatchEntryResult[] }> {
    const outcome = await this.failover(
      (provider) => this.sendBatchTo(provider, content, recipients),
      (provider, failure) =>
        this.logger.warn({ recipients: recipients.length, provider: provider.name, failure: failure.failure, rawCode: failure.rawCode }, 'email provider failed a batch'),
    );
    if ('attempts' in outcome) {
      throw new EmailError(`Batch of ${recipients.length} was not sent: ${outcome.attempts.map((attempt) => attempt.message).join('; ')}`, outcome.attempts);
    }
    return { provider: outcome.provider.name, entries: outcome.value };
  }

  /**
   * Tries `send` on each provider in order, through its circuit breaker: a transient failure
   * moves on to the next provider, a permanent one stops. Returns the first success, or every
   * attempt's error.
   */
  private async failover<T>(
    send: (provider: EmailProvider) => Promise<T>,
    onFailure: (provider: EmailProvider, failure: EmailProviderError) => void,
  ): Promise<{ provider: EmailProvider; value: T } | { attempts: EmailProviderError[] }> {
    const attempts: EmailProviderError[] = [];
    for (const [index, provider] of this.providers.entries()) {
      const breaker = this.breakers[index];
      const permit = breaker?.tryAcquire();
      if (breaker !== undefined && permit === undefined) {
        attempts.push(new EmailProviderError(provider.name, 'transient', 'circuit open; skipped', { rawCode: 'CIRCUIT_OPEN' }));
        continue;
      }
      const started = performance.now();
      try {
        const value = await send(provider);
        permit?.success();
        this.metrics?.sendDuration(provider.name, performance.now() - started);
        return { provider, value };
      } catch (error) {
        const failure = EmailProviderError.isInstance(error)
          ? error
          : new EmailProviderError(provider.name, 'transient', error instanceof Error ? error.message : String(error), { cause: error });
        permit?.failure(failure);
        attempts.push(failure);
        this.metrics?.providerFailure(provider.name, failure.failure);
        onFailure(provider, failure);
        if (failure.failure === 'permanent') break;
      }
    }
    return { attempts };
  }

  private async sendBatchTo(provider: EmailProvider, content: OutgoingEmail, recipients: readonly EmailBatchRecipient[]): Promise<EmailBatchEntryResult[]> {
    if (provider.sendBatch !== undefined) {
      const max = provider.maxBatchSize ?? recipients.length;
      const entries: EmailBatchEntryResult[] = [];
      for (let start = 0; start < recipients.length; start += max) {
        const part = recipients.slice(start, start + max);
        const result = await provider.sendBatch({ content, recipients: part });
        entries.push(...part.map((_, index) => result.entries[index] ?? { status: 'rejected' as const, error: new EmailProviderError(provider.name, 'transient', 'no result for this recipient') }));
      }
      return entries;
    }
    const outcomes = await Promise.allSettled(
      recipients.map((recipient) =>
        provider.send({ ...content, messageId: recipient.messageId, to: [recipient.to], cc: [], bcc: [], headers: { ...content.headers, ...recipient.headers } }),
      ),
    );
    // Every copy failed the same way: treat it as the provider failing (so failover applies).
    const firstError = outcomes[0]?.status === 'rejected' ? (outcomes[0].reason as unknown) : undefined;
    if (firstError instanceof Error && outcomes.every((outcome) => outcome.status === 'rejected')) throw firstError;
    return outcomes.map((outcome) =>
      outcome.status === 'fulfilled'
        ? { status: 'accepted' as const, providerMessageId: outcome.value.providerMessageId }
        : {
            status: 'rejected' as const,
            error: EmailProviderError.isInstance(outcome.reason) ? outcome.reason : new EmailProviderError(provider.name, 'transient', String(outcome.reason), { cause: outcome.reason }),
          },
    );
  }

  private async checkBatchLimits(from: string, recipients: readonly string[]): Promise<void> {
    const checks: (() => Promise<unknown>)[] = [];
    if (this.senderLimiter !== undefined) checks.push(() => (this.senderLimiter as RateLimiter).consumeOrThrow(`sender:${from.toLowerCase()}`, recipients.length));
    if (this.domainLimiter !== undefined) {
      const counts = new Map<string, number>();
      for (const address of recipients) counts.set(domainOf(address), (counts.get(domainOf(address)) ?? 0) + 1);
      for (const [domain, count] of counts) checks.push(() => (this.domainLimiter as RateLimiter).consumeOrThrow(`domain:${domain}`, count));
    }
    try {
      await Promise.all(checks.map((check) => this.guardLimits(check)));
    } catch (error) {
      if (RateLimitError.isInstance(error)) this.metrics?.rateLimited(error.key, error.retryAfterMs);
      throw error;
    }
  }

  private unsubscribeHeaders(recipient: string, list: string, messageId: string): { url: string; headers: Record<string, string> } {
    const tracking = this.tracking as NonNullable<typeof this.tracking>;
    const url = `${tracking.baseUrl}/u/${tracking.signer.sign('u', [recipient.toLowerCase(), list, messageId])}`;
    return { url, headers: { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } };
  }

  private validateInput(input: SendEmailInput): ValidatedFields {
    if (typeof input !== 'object' || input === null) throw new ValidationError('message', 'must be an object');
    const to = parseEmailAddressList(input.to, 'to');
    const cc = parseEmailAddressList(input.cc, 'cc');
    const bcc = parseEmailAddressList(input.bcc, 'bcc');
    if (to.length + cc.length + bcc.length === 0) throw new ValidationError('to', 'must name at least one recipient');
    const from = input.from === undefined ? this.defaultFrom : parseEmailAddress(input.from, 'from');
    const replyTo = input.replyTo === undefined ? undefined : parseEmailAddress(input.replyTo, 'replyTo');
    if (input.subject !== undefined) assertHeaderSafe('subject', input.subject);
    if (input.template === undefined && input.html === undefined && input.text === undefined) throw new ValidationError('html', 'or text or template is required');
    if (input.template !== undefined && (input.html !== undefined || input.text !== undefined)) throw new ValidationError('template', 'cannot be combined with html or text');
    const headers = validateHeaders(input.headers);
    const attachments = validateAttachments(input.attachments, this.policy);
    checkTags(input.tags);
    if (input.idempotencyKey !== undefined && (typeof input.idempotencyKey !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(input.idempotencyKey))) {
      throw new ValidationError('idempotencyKey', 'must be 1-200 printable ASCII characters');
    }
    if (input.listUnsubscribe !== undefined && input.listUnsubscribe !== false) {
      if (this.tracking === undefined) throw new ValidationError('listUnsubscribe', 'needs the tracking option (baseUrl and secret)');
      if (to.length !== 1 || cc.length + bcc.length > 0) throw new ValidationError('listUnsubscribe', 'needs exactly one recipient');
    }
    return { to, cc, bcc, from, replyTo, headers, attachments };
  }

  private async prepare(input: SendEmailInput): Promise<OutgoingEmail> {
    const { to, cc, bcc, from, replyTo, headers, attachments } = this.validateInput(input);
    const messageId = randomUUID();
    const tags = [...(input.tags ?? [])];
    let unsubscribeUrl: string | undefined;
    if (input.listUnsubscribe !== undefined && input.listUnsubscribe !== false && this.tracking !== undefined) {
      const settings = typeof input.listUnsubscribe === 'object' ? input.listUnsubscribe : {};
      const list = settings.list ?? 'default';
      assertHeaderSafe('listUnsubscribe.list', list);
      const recipient = (to[0] as EmailAddress).address;
      unsubscribeUrl = `${this.tracking.baseUrl}/u/${this.tracking.signer.sign('u', [recipient.toLowerCase(), list, messageId])}`;
      let header = `<${unsubscribeUrl}>`;
      if (settings.mailto !== undefined) {
        const mailto = parseEmailAddress(settings.mailto, 'listUnsubscribe.mailto');
        header = `<mailto:${mailto.address}?subject=unsubscribe>, ${header}`;
      }
      headers['List-Unsubscribe'] = header;
      headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    }

    let subject = input.subject;
    let html = input.html;
    let text = input.text;
    if (input.template !== undefined) {
      const data = { ...this.templateDefaults, ...input.data, ...(unsubscribeUrl === undefined ? {} : { unsubscribeUrl }) };
      const rendered = await this.templates.render(input.template, data);
      subject ??= rendered.subject;
      html = rendered.html;
      text = rendered.text;
    }
    if (subject === undefined || subject.trim() === '') throw new ValidationError('subject', 'is required');
    assertHeaderSafe('subject', subject);
    if (html !== undefined && this.tracking !== undefined) {
      const clicks = input.trackClicks ?? this.tracking.clicks;
      const opens = input.trackOpens ?? this.tracking.opens;
      if (clicks || opens) {
        html = rewriteLinks(html, {
          signer: this.tracking.signer,
          baseUrl: this.tracking.baseUrl,
          messageId,
          clicks,
          opens,
          ...(unsubscribeUrl === undefined ? {} : { skip: [unsubscribeUrl] }),
        });
      }
    }
    return {
      messageId,
      from,
      to,
      cc,
      bcc,
      replyTo,
      subject,
      html,
      text,
      headers,
      attachments: await this.resolveAttachments(attachments),
      tags,
      template: input.template,
    };
  }

  private async deliver(prepared: OutgoingEmail): Promise<SendEmailResult> {
    const all = [...prepared.to, ...prepared.cc, ...prepared.bcc];
    // One round trip: the suppression lookup and the rate limits run together. A message whose
    // recipients turn out to be suppressed may so be charged once; it is never sent.
    const [suppressedSet, limits] = await Promise.all([
      this.store.suppressedAmong(all.map((entry) => entry.address)),
      this.checkLimits(prepared).then(
        () => undefined,
        (error: unknown) => ({ error }),
      ),
    ]);
    const keep = (list: readonly EmailAddress[]): EmailAddress[] => list.filter((entry) => !suppressedSet.has(entry.address.toLowerCase()));
    const message: OutgoingEmail = { ...prepared, to: keep(prepared.to), cc: keep(prepared.cc), bcc: keep(prepared.bcc) };
    const suppressed = suppressedSet.size === 0 ? [] : all.filter((entry) => suppressedSet.has(entry.address.toLowerCase())).map((entry) => entry.address);
    this.metrics?.suppressed(message.template, suppressed.length);
    if (message.to.length + message.cc.length + message.bcc.length === 0) {
      this.logger.info({ messageId: message.messageId, suppressed }, 'email not sent: every recipient is suppressed');
      return { messageId: message.messageId, status: 'suppressed', provider: undefined, providerMessageId: undefined, accepted: [], rejected: [], suppressed };
    }
    if (limits !== undefined) {
      if (RateLimitError.isInstance(limits.error)) this.metrics?.rateLimited(limits.error.key, limits.error.retryAfterMs);
      throw limits.error;
    }
    const outcome = await this.sendWithFailover(message);
    const result: SendEmailResult = {
      messageId: message.messageId,
      status: 'sent',
      provider: outcome.provider,
      providerMessageId: outcome.providerMessageId,
      accepted: outcome.accepted,
      rejected: outcome.rejected,
      suppressed,
    };
    // Not awaited: the message is out. Gathered with the other sends of this event-loop turn into
    // one pipeline; the store's reads wait for it. Failures go to the 'error' event.
    this.store
      .recordSent({ messageId: message.messageId, template: message.template, tags: message.tags, at: this.clock.now() })
      .catch((error: unknown) => this.emitError(error));
    this.safeEmit('sent', result, message);
    return result;
  }

  private async checkLimits(message: OutgoingEmail): Promise<void> {
    const checks: (() => Promise<unknown>)[] = [];
    if (this.senderLimiter !== undefined) checks.push(() => (this.senderLimiter as RateLimiter).consumeOrThrow(`sender:${message.from.address.toLowerCase()}`));
    if (this.domainLimiter !== undefined) {
      const domains = new Set([...message.to, ...message.cc, ...message.bcc].map((entry) => domainOf(entry.address)));
      for (const domain of domains) checks.push(() => (this.domainLimiter as RateLimiter).consumeOrThrow(`domain:${domain}`));
    }
    const outcomes = await Promise.allSettled(checks.map((check) => this.guardLimits(check)));
    const limited = outcomes
      .filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')
      .map((outcome) => outcome.reason as unknown);
    if (limited.length === 0) return;
    const rate = limited.filter((error): error is RateLimitError => RateLimitError.isInstance(error));
    if (rate.length !== limited.length) throw limited.find((error) => !RateLimitError.isInstance(error));
    throw rate.reduce((worst, error) => (error.retryAfterMs > worst.retryAfterMs ? error : worst));
  }

  private async sendWithFailover(message: OutgoingEmail): Promise<ProviderSendResult> {
    const outcome = await this.failover(
      (provider) => provider.send(message),
      (provider, failure) =>
        this.logger.warn({ messageId: message.messageId, provider: provider.name, failure: failure.failure, rawCode: failure.rawCode }, 'email provider failed'),
    );
    if (!('attempts' in outcome)) {
      this.metrics?.sent(outcome.provider.name, message.template);
      return outcome.value;
    }
    const { attempts } = outcome;
    const error = new EmailError(`Email ${message.messageId} was not sent: ${attempts.map((attempt) => attempt.message).join('; ')}`, attempts);
    this.metrics?.failed(attempts.at(-1)?.provider ?? 'none', message.template);
    this.safeEmit('failed', error, message);
    throw error;
  }

  private async resolveAttachments(attachments: EmailAttachment[]): Promise<EmailAttachment[]> {
    return Promise.all(
      attachments.map(async (attachment, index) => {
        if (attachment.path === undefined) return attachment;
        const { path, ...rest } = attachment;
        const filename = rest.filename ?? path.split(/[\\/]/).pop() ?? 'attachment';
        const field = `attachments[${index}].path`;
        if (/^https?:\/\//i.test(path)) {
          const response = await this.fetch(path, { signal: AbortSignal.timeout(10_000) });
          if (!response.ok) throw new ValidationError(field, `could not be fetched (HTTP ${response.status})`);
          if (Number(response.headers.get('content-length') ?? 0) > MAX_ATTACHMENT_BYTES) throw new ValidationError(field, 'is larger than 10 MB');
          const bytes = new Uint8Array(await response.arrayBuffer());
          if (bytes.length > MAX_ATTACHMENT_BYTES) throw new ValidationError(field, 'is larger than 10 MB');
          return { ...rest, filename, content: bytes };
        }
        const info = await stat(path).catch((cause: unknown) => {
          throw new ValidationError(field, 'cannot be read', { cause });
        });
        if (!info.isFile()) throw new ValidationError(field, 'is not a regular file');
        if (info.size > MAX_ATTACHMENT_BYTES) throw new ValidationError(field, 'is larger than 10 MB');
        return { ...rest, filename, content: new Uint8Array(await readFile(path)) };
      }),
    );
  }

  private async handle(req: IncomingMessage & { body?: unknown; rawBody?: unknown }, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const tracking = this.tracking;
    if (path.startsWith('/t/') || path.startsWith('/u/')) {
      if (tracking === undefined) return false;
      const open = /^\/t\/o\/([^/]+)\.gif$/.exec(path);
      if (open !== null && (method === 'GET' || method === 'HEAD')) {
        const payload = tracking.signer.verify('o', open[1] ?? '');
        if (payload === undefined || typeof payload[0] !== 'string') return send(res, 400, 'Invalid tracking token'), true;
        const messageId = payload[0];
        if (await this.store.firstSeen('open', messageId, 30 * 86_400_000)) {
          await this.recordEvent({ type: 'opened', messageId, recipient: undefined, eventId: `open:${messageId}`, source: 'tracking', timestamp: this.clock.now() });
        }
        res.writeHead(200, { 'content-type': 'image/gif', 'content-length': PIXEL.length, 'cache-control': 'no-store, max-age=0' });
        res.end(method === 'HEAD' ? undefined : PIXEL);
        return true;
      }
      const click = /^\/t\/c\/([^/]+)$/.exec(path);
      if (click !== null && (method === 'GET' || method === 'HEAD')) {
        const payload = tracking.signer.verify('c', click[1] ?? '');
        const [messageId, index, target] = payload ?? [];
        if (typeof messageId !== 'string' || typeof index !== 'number' || typeof target !== 'string' || !/^https?:\/\//i.test(target)) {
          return send(res, 400, 'Invalid tracking token'), true;
        }
        const first = await this.store.firstSeen('click', `${messageId}:${index}`, 30 * 86_400_000);
        if (first) {
          await this.recordEvent({ type: 'clicked', messageId, recipient: undefined, url: target, eventId: `click:${messageId}:${index}`, source: 'tracking', timestamp: this.clock.now() });
        }
        res.writeHead(302, { location: target, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
        res.end();
        return true;
      }
      const unsubscribe = /^\/u\/([^/]+)$/.exec(path);
      if (unsubscribe !== null && (method === 'GET' || method === 'POST')) {
        const payload = tracking.signer.verify('u', unsubscribe[1] ?? '');
        const [recipient, list, messageId] = payload ?? [];
        if (typeof recipient !== 'string' || typeof list !== 'string') return send(res, 400, 'Invalid unsubscribe link'), true;
        if (method === 'GET') {
          // Link scanners follow GETs: only a POST (RFC 8058 one-click, or the button) unsubscribes.
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          res.end(`<!doctype html><meta charset="utf-8"><title>Unsubscribe</title><form method="post"><p>Stop receiving these emails?</p><button type="submit" name="List-Unsubscribe" value="One-Click">Unsubscribe</button></form>`);
          return true;
        }
        await readBody(req);
        await this.store.suppress(recipient, 'unsubscribe', this.clock.now());
        await this.recordEvent({
          type: 'unsubscribed',
          messageId: typeof messageId === 'string' ? messageId : undefined,
          recipient,
          eventId: `unsubscribe:${recipient}:${list}`,
          source: 'tracking',
          timestamp: this.clock.now(),
        });
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end('<!doctype html><meta charset="utf-8"><title>Unsubscribed</title><p>You have been unsubscribed.</p>');
        return true;
      }
      return send(res, 400, 'Invalid tracking URL'), true;
    }
    const webhook = /^\/webhooks\/(sendgrid|mailgun|ses)$/.exec(path);
    if (webhook === null) return false;
    if (method !== 'POST') return send(res, 405, 'Method not allowed'), true;
    const provider = webhook[1] as 'sendgrid' | 'mailgun' | 'ses';
    try {
      const body = await readBody(req);
      const now = this.clock.now();
      let events: EmailEvent[];
      if (provider === 'sendgrid') {
        if (this.sendgridWebhook === undefined) return send(res, 404, 'Not configured'), true;
        events = this.sendgridWebhook.verify(body, req.headers, now, this.replayWindowMs);
      } else if (provider === 'mailgun') {
        if (this.mailgunWebhook === undefined) return send(res, 404, 'Not configured'), true;
        const verified = this.mailgunWebhook.verify(body, now, this.replayWindowMs);
        if (!(await this.store.firstSeen('mailgun-token', verified.token, this.replayWindowMs * 2))) {
          throw new WebhookError('mailgun', 401, 'token already used (replay)');
        }
        events = verified.events;
      } else {
        if (this.snsWebhook === undefined) return send(res, 404, 'Not configured'), true;
        const verified = await this.snsWebhook.verify(body, now, this.replayWindowMs);
        if (!(await this.store.firstSeen('sns', verified.messageId, this.replayWindowMs * 2))) return send(res, 200, 'duplicate'), true;
        events = verified.events;
      }
      let applied = 0;
      for (const event of events) if (await this.recordEvent(event)) applied++;
      send(res, 200, JSON.stringify({ received: events.length, applied }), 'application/json');
    } catch (error) {
      if (!WebhookError.isInstance(error)) throw error;
      this.logger.warn({ provider, status: error.status }, error.message);
      send(res, error.status, error.status === 401 ? 'Unauthorized' : 'Bad request');
    }
    return true;
  }

  private safeEmit<K extends keyof EnhancedEmailServiceEvents>(name: K, ...args: EnhancedEmailServiceEvents[K]): void {
    try {
      (this.emit as (event: K, ...rest: EnhancedEmailServiceEvents[K]) => boolean)(name, ...args);
    } catch (error) {
      this.emitError(error);
    }
  }

  private emitError(error: unknown): void {
    if (this.listenerCount('error') === 0) {
      this.logger.error({ err: error }, 'email service error');
      return;
    }
    try {
      this.emit('error', error);
    } catch (inner) {
      this.logger.error({ err: inner }, 'email service error listener threw');
    }
  }
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function readBody(req: IncomingMessage & { body?: unknown; rawBody?: unknown }): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) return req.rawBody;
  if (Buffer.isBuffer(req.body)) return req.body;
  if (req.readableEnded || (req.body !== undefined && typeof req.body === 'object' && !Buffer.isBuffer(req.body))) {
    throw new WebhookError('email', 400, 'the raw body is needed: mount the router before body parsers, or use express.raw()');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY) throw new WebhookError('email', 400, 'body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function positive(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ValidationError(field, `must be a positive integer (got ${String(value)})`);
  return value;
}

function checkTags(tags: readonly string[] | undefined): void {
  if (tags === undefined) return;
  if (!Array.isArray(tags) || tags.length > 10) throw new ValidationError('tags', 'must be an array of at most 10 tags');
  tags.forEach((tag: unknown, index) => {
    if (typeof tag !== 'string' || !TAG.test(tag)) throw new ValidationError(`tags[${index}]`, 'must match [A-Za-z0-9_.-]{1,64}');
  });
}

function serializableAttachments(attachments: readonly EmailAttachment[] | undefined): { attachments?: EmailAttachment[] } {
  if (attachments === undefined) return {};
  return {
    attachments: attachments.map((attachment) =>
      attachment.content instanceof Uint8Array
        ? { ...attachment, content: Buffer.from(attachment.content).toString('base64'), encoding: 'base64' as const }
        : { ...attachment },
    ),
  };
}


/** Splits `entries` into chunks of at most `size` with no address twice in a chunk (batch APIs key recipients by address). */
function uniqueChunks<T extends { to: EmailAddress }>(entries: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  let pending = [...entries];
  while (pending.length > 0) {
    const later: T[] = [];
    let chunk: T[] = [];
    let seen = new Set<string>();
    for (const entry of pending) {
      const address = entry.to.address.toLowerCase();
      if (seen.has(address)) {
        later.push(entry);
        continue;
      }
      seen.add(address);
      chunk.push(entry);
      if (chunk.length === size) {
        chunks.push(chunk);
        chunk = [];
        seen = new Set();
      }
    }
    if (chunk.length > 0) chunks.push(chunk);
    pending = later;
  }
  return chunks;
}

/** Which state the service uses, by precedence: `store`, `redis`, the queue's Redis, `REDIS_URL`, the process. */
function resolveState(options: EnhancedEmailServiceOptions): { source: string; redis: RedisConnectionInput | undefined } {
  if (options.store !== undefined) {
    // A custom store: caps follow `redis` when given, else a Redis store's own client, else memory.
    const own = options.store instanceof RedisEmailStore ? options.store.redis : undefined;
    return { source: 'the given store', redis: options.redis === undefined ? own : failFast(options.redis) };
  }
  if (options.redis !== undefined) return { source: 'Redis (option "redis")', redis: failFast(options.redis) };
  const queueRedis = options.queue?.redis;
  if (queueRedis !== undefined && isRedisClient(queueRedis)) return { source: "Redis (the queue's connection)", redis: queueRedis };
  const url = (options.env ?? process.env)['REDIS_URL'];
  if (url !== undefined && url.trim() !== '') return { source: 'Redis (REDIS_URL)', redis: failFast(url.trim()) };
  return { source: 'memory', redis: undefined };
}

/**
 * Connections the service creates give up on a command after one reconnect attempt instead of
 * queueing it until Redis returns (the core default suits queue workers, not a send a caller
 * awaits). A client passed in is used as it is; the store's timeout bounds it.
 */
function failFast(input: RedisConnectionInput): RedisConnectionInput {
  if (isRedisClient(input)) return input;
  if (typeof input === 'string') return { url: input, options: { maxRetriesPerRequest: 1 } };
  if ('cluster' in input) return { ...input, options: { ...input.options, redisOptions: { maxRetriesPerRequest: 1, ...input.options?.redisOptions } } };
  return { ...input, options: { maxRetriesPerRequest: 1, ...input.options } };
}
