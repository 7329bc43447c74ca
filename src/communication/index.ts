/**
 * Email for services: `EnhancedEmailService` with provider failover (SMTP via pooled nodemailer,
 * SendGrid, SES, Mailgun, development mode), MJML templates, idempotency keys, suppression list,
 * rate limits, signed open/click tracking, one-click unsubscribe, verified webhooks and analytics.
 *
 * @example
 * ```ts
 * import { initializeEnhancedEmailService } from '@ux-flow/common/communication';
 * const email = initializeEnhancedEmailService({ defaultFrom: 'Flow <hello@example.com>', redis }, logger, messageQueue);
 * await email.send({ to: 'ada@example.com', template: 'welcome', data: { name: 'Ada', productName: 'Flow', actionUrl } });
 * ```
 *
 * @module
 */
export { EnhancedEmailService } from './enhanced-email-service.js';
export type {
  EmailRequestHandler,
  BulkProgress,
  BulkRecipient,
  BulkSendResult,
  EmailRateLimits,
  EmailTrackingOptions,
  EmailWebhookOptions,
  EnhancedEmailServiceEvents,
  EnhancedEmailServiceOptions,
  SendBulkOptions,
} from './enhanced-email-service.js';
export { initializeEnhancedEmailService } from './initialize-enhanced-email-service.js';
export type { EmailConfig } from './initialize-enhanced-email-service.js';
export { EMAIL_SEND_JOB } from './email-job-queue.js';
export type { EmailJobQueue, EmailSendJobData } from './email-job-queue.js';

export { EmailError } from './email-error.js';
export { EmailProviderError } from './email-provider-error.js';
export type { EmailFailureClass, EmailProviderErrorOptions } from './email-provider-error.js';
export { TemplateError } from './template-error.js';
export { WebhookError } from './webhooks/webhook-error.js';

export { EMAIL_DURATION_BUCKETS_SECONDS, EmailMetrics } from './email-metrics.js';
export type { MetricsRegistry } from './email-metrics.js';
export type {
  EmailCounts,
  EmailStateStore,
  EmailStats,
  IdempotencyClaim,
  SentRecord,
  StoredMessage,
  Suppression,
  SuppressionReason,
} from './email-state-store.js';
export { RedisEmailStore } from './redis-email-store.js';
export type { RedisEmailStoreOptions } from './redis-email-store.js';
export { MemoryEmailStore } from './memory-email-store.js';
export type { MemoryEmailStoreOptions } from './memory-email-store.js';
export { EmailStateUnavailableError } from './email-state-unavailable-error.js';
export { domainOf, parseEmailAddress, parseEmailAddressList } from './parse-email-address.js';
export { assertHeaderSafe, validateAttachments, validateHeaders } from './safe-headers.js';
export type { AttachmentPolicy } from './safe-headers.js';
export { TrackingSigner } from './tracking-signer.js';
export type { TrackingTokenKind } from './tracking-signer.js';
export { rewriteLinks } from './rewrite-links.js';
export type { RewriteLinksOptions } from './rewrite-links.js';

export type { EmailBatch, EmailBatchEntryResult, EmailBatchRecipient, EmailBatchResult, EmailProvider } from './providers/email-provider.js';
export { createEmailProviders, EMAIL_ENV } from './providers/create-email-providers.js';
export type { EmailProviderName, EmailProviderSettings } from './providers/create-email-providers.js';
export { SmtpProvider, classifySmtpError } from './providers/smtp-provider.js';
export type { SmtpProviderOptions } from './providers/smtp-provider.js';
export { SendGridProvider, toSendGridBody } from './providers/sendgrid-provider.js';
export type { SendGridProviderOptions } from './providers/sendgrid-provider.js';
export { SesProvider } from './providers/ses-provider.js';
export type { SesProviderOptions } from './providers/ses-provider.js';
export { MailgunProvider } from './providers/mailgun-provider.js';
export type { MailgunProviderOptions } from './providers/mailgun-provider.js';
export { DevProvider } from './providers/dev-provider.js';
export type { DevProviderOptions } from './providers/dev-provider.js';
export { httpFailure, networkFailure, parseRetryAfter } from './providers/classify-http-failure.js';

export { TemplateRegistry } from './templates/template-registry.js';
export type { RenderedEmail, TemplateRegistryOptions } from './templates/template-registry.js';
export type { EmailTemplateDefinition } from './templates/email-template-definition.js';
export { compileTemplate, escapeHtml } from './templates/compile-template.js';
export type { CompiledTemplate, TemplateMode } from './templates/compile-template.js';
export { BUILTIN_TEMPLATES, DEFAULT_LAYOUT } from './templates/builtin-templates.js';

export { SendGridWebhookVerifier, SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER } from './webhooks/sendgrid-webhook.js';
export { MailgunWebhookVerifier } from './webhooks/mailgun-webhook.js';
export { SnsWebhookVerifier } from './webhooks/sns-webhook.js';
export type { SnsVerified, SnsWebhookVerifierOptions } from './webhooks/sns-webhook.js';

export type {
  EmailAddress,
  EmailAddressInput,
  EmailAttachment,
  EmailEvent,
  EmailEventType,
  ListUnsubscribeInput,
  OutgoingEmail,
  ProviderSendResult,
  SendEmailInput,
  SendEmailResult,
} from './types.js';
