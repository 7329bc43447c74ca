import { env, readEnv } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { ValidationError } from '../core/validation-error.js';
import type { EmailJobQueue } from './email-job-queue.js';
import { EnhancedEmailService, type EnhancedEmailServiceOptions } from './enhanced-email-service.js';
import type { EmailProvider } from './providers/email-provider.js';
import { createEmailProviders, type EmailProviderSettings } from './providers/create-email-providers.js';
import type { EmailAddressInput } from './types.js';

/** What `initializeEnhancedEmailService` accepts: service options plus provider settings. */
export interface EmailConfig extends Omit<EnhancedEmailServiceOptions, 'providers' | 'defaultFrom' | 'logger' | 'queue'>, EmailProviderSettings {
  /** Ready-made providers; when given, `provider`/`smtp`/`sendgrid`/… are ignored. */
  providers?: readonly EmailProvider[];
  /** Default sender. Default `EMAIL_FROM`. */
  defaultFrom?: EmailAddressInput;
}

const EMAIL_FROM = env.string('Default sender address of the email service');

/**
 * Builds the email service the way services already call it: providers from `emailConfig` or
 * the environment (`EMAIL_PROVIDER`, `SMTP_HOST`, `SMTP_PORT`, `SENDGRID_API_KEY`,
 * `AWS_SES_REGION`, `EMAIL_FROM`), the given logger, and, when a queue is passed, `queueEmail`
 * enqueuing `email_send` jobs for `processSendEmail`.
 *
 * @example
 * ```ts
 * const emailService = initializeEnhancedEmailService({ defaultFrom: 'Flow <hello@example.com>', redis }, logger, messageQueue);
 * messageQueue.registerProcessor('email_send', async (jobData) => emailService.processSendEmail(jobData));
 * await emailService.queueEmail({ to: 'ada@example.com', template: 'welcome', data: { name: 'Ada', actionUrl } });
 * ```
 */
export function initializeEnhancedEmailService(emailConfig: EmailConfig = {}, logger?: Logger, messageQueue?: EmailJobQueue): EnhancedEmailService {
  const source = emailConfig.env ?? process.env;
  const defaultFrom = emailConfig.defaultFrom ?? readEnv('EMAIL_FROM', EMAIL_FROM, source);
  if (defaultFrom === undefined) throw new ValidationError('defaultFrom', 'must be given (or EMAIL_FROM set)');
  const providers = emailConfig.providers ?? createEmailProviders(emailConfig, logger);
  return new EnhancedEmailService({
    ...emailConfig,
    providers,
    defaultFrom,
    ...(logger === undefined ? {} : { logger }),
    ...(messageQueue === undefined ? {} : { queue: messageQueue }),
  });
}
