/** An address as callers give it: `'Ada <ada@example.com>'`, `'ada@example.com'` or `{ name, address }`. */
export type EmailAddressInput = string | { name?: string; address: string };

/** A validated address. `name` is `''` when there is none. */
export interface EmailAddress {
  name: string;
  address: string;
}

/**
 * An attachment. Inline `content` is always allowed; `path` (a file or an `http(s)` URL) only
 * when the service was built with `allowFileAttachments` / `allowUrlAttachments`.
 */
export interface EmailAttachment {
  /** File name shown to the recipient. */
  filename?: string;
  /** The bytes, or a string (with `encoding`). */
  content?: string | Uint8Array;
  /** How a string `content` is encoded. Default `'utf-8'`. */
  encoding?: 'utf-8' | 'base64' | 'hex';
  /** MIME type. Default derived from `filename`. */
  contentType?: string;
  /** A file path or `http(s)` URL to read the content from (refused unless allowed). */
  path?: string;
  /** Content-ID, to reference the attachment from HTML as `cid:…`. */
  cid?: string;
}

/** List-Unsubscribe settings of one message. */
export interface ListUnsubscribeInput {
  /** Names the list the recipient leaves (default `'default'`). */
  list?: string;
  /** An additional `mailto:` address for clients without one-click support. */
  mailto?: string;
}

/** What {@link EnhancedEmailService.send} accepts. Either `html`/`text` or a `template`. */
export interface SendEmailInput {
  to: EmailAddressInput | readonly EmailAddressInput[];
  cc?: EmailAddressInput | readonly EmailAddressInput[];
  bcc?: EmailAddressInput | readonly EmailAddressInput[];
  /** Default the service's `defaultFrom`. */
  from?: EmailAddressInput;
  replyTo?: EmailAddressInput;
  /** Required unless the template defines one. */
  subject?: string;
  html?: string;
  text?: string;
  /** A registered template name (built-ins: `welcome`, `verify-email`, `password-reset`, `workspace-invitation`, `notification-digest`). */
  template?: string;
  /** Template variables. Values are HTML-escaped in the HTML part. */
  data?: Readonly<Record<string, unknown>>;
  attachments?: readonly EmailAttachment[];
  /** Extra headers (`X-…`); structural headers are refused. */
  headers?: Readonly<Record<string, string>>;
  /** Labels for analytics (`[A-Za-z0-9_.-]`, at most 10). */
  tags?: readonly string[];
  /** Sends at most once per key (kept in Redis for `idempotencyTtlMs`). */
  idempotencyKey?: string;
  /** Adds the open pixel. Default the service's tracking setting. */
  trackOpens?: boolean;
  /** Rewrites links to signed redirects. Default the service's tracking setting. */
  trackClicks?: boolean;
  /** Adds RFC 8058 one-click unsubscribe headers. Default `false` (`true` for bulk). */
  listUnsubscribe?: boolean | ListUnsubscribeInput;
}

/** A message after validation and rendering: what providers receive. */
export interface OutgoingEmail {
  /** Our id (a UUID), also used in the `Message-ID` header, tracking tokens and webhooks. */
  messageId: string;
  from: EmailAddress;
  to: readonly EmailAddress[];
  cc: readonly EmailAddress[];
  bcc: readonly EmailAddress[];
  replyTo: EmailAddress | undefined;
  subject: string;
  html: string | undefined;
  text: string | undefined;
  /** Validated extra headers, List-Unsubscribe included. */
  headers: Readonly<Record<string, string>>;
  attachments: readonly EmailAttachment[];
  tags: readonly string[];
  /** The template used, for analytics. */
  template: string | undefined;
}

/** What a provider reports for one accepted message. */
export interface ProviderSendResult {
  provider: string;
  /** The provider's id (SMTP queue id / `X-Message-Id` / SES `MessageId`), when known. */
  providerMessageId: string | undefined;
  /** Recipients accepted. */
  accepted: readonly string[];
  /** Recipients the provider rejected while accepting the rest. */
  rejected: readonly string[];
}

/** The outcome of one `send`. */
export interface SendEmailResult {
  messageId: string;
  /**
   * `sent`; `duplicate` when the idempotency key was already used; `suppressed` when every
   * recipient is suppressed; `deferred` when a queued job hit a rate limit and was re-enqueued
   * with a delay (same idempotency key).
   */
  status: 'sent' | 'duplicate' | 'suppressed' | 'deferred';
  provider: string | undefined;
  providerMessageId: string | undefined;
  accepted: readonly string[];
  rejected: readonly string[];
  /** Recipients skipped because they are on the suppression list. */
  suppressed: readonly string[];
}

/** A delivery event, from a provider webhook or our tracking endpoints. */
export type EmailEventType = 'sent' | 'delivered' | 'bounced' | 'opened' | 'clicked' | 'complained' | 'unsubscribed';

/** A normalized delivery event. */
export interface EmailEvent {
  type: EmailEventType;
  /** Our message id, when the event could be tied to a message. */
  messageId: string | undefined;
  /** The recipient concerned, when known. */
  recipient: string | undefined;
  /** For `bounced`: `hard` (permanent) or `soft` (transient). */
  bounce?: 'hard' | 'soft';
  /** For `clicked`: the URL. */
  url?: string;
  /** The provider's event id, used to drop duplicates. */
  eventId: string;
  /** Where the event came from: `sendgrid`, `mailgun`, `ses`, `tracking`. */
  source: string;
  /** Epoch ms. */
  timestamp: number;
}
