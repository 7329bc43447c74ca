import { configValue, env, readEnv } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { ValidationError } from '../../core/validation-error.js';
import { DevProvider, type DevProviderOptions } from './dev-provider.js';
import type { EmailProvider } from './email-provider.js';
import { MailgunProvider, type MailgunProviderOptions } from './mailgun-provider.js';
import { SendGridProvider, type SendGridProviderOptions } from './sendgrid-provider.js';
import { SesProvider, type SesProviderOptions } from './ses-provider.js';
import { SmtpProvider, type SmtpProviderOptions } from './smtp-provider.js';

/** A built-in provider name, as in `EMAIL_PROVIDER`. */
export type EmailProviderName = 'smtp' | 'sendgrid' | 'ses' | 'mailgun' | 'dev';

/** Settings of the built-in providers; unset fields come from the environment. */
export interface EmailProviderSettings {
  /** One provider or a failover order. Default `EMAIL_PROVIDER` (comma-separated allowed), else `'dev'`. */
  provider?: EmailProviderName | readonly EmailProviderName[];
  smtp?: Partial<SmtpProviderOptions>;
  sendgrid?: Partial<SendGridProviderOptions>;
  ses?: Partial<SesProviderOptions>;
  mailgun?: Partial<MailgunProviderOptions>;
  dev?: DevProviderOptions;
  /** Where variables are read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

const NAMES: readonly EmailProviderName[] = ['smtp', 'sendgrid', 'ses', 'mailgun', 'dev'];

/** Extra variables of the email block (beyond `EMAIL_PROVIDER`, `SMTP_HOST`, `SMTP_PORT`, `SENDGRID_API_KEY`, `AWS_SES_REGION`). */
export const EMAIL_ENV = {
  SMTP_USER: env.string('SMTP login user'),
  SMTP_PASS: env.string('SMTP login password', { secret: true }),
  SMTP_SECURE: env.boolean('Implicit TLS (port 465)'),
  MAILGUN_API_KEY: env.string('Mailgun private API key', { secret: true }),
  MAILGUN_DOMAIN: env.string('Mailgun sending domain'),
  EMAIL_DEV_DIR: env.string('Folder for development-mode .eml files', { default: '.outbox' }),
} as const;

/**
 * Builds providers in failover order from settings and the environment
 * (`EMAIL_PROVIDER=smtp,sendgrid` gives SMTP first, SendGrid on transient failures).
 * SES and Mailgun load their optional SDKs only on first send.
 *
 * @example
 * ```ts
 * const providers = createEmailProviders({ provider: ['smtp', 'sendgrid'], smtp: { host: 'mail.internal', port: 25 } });
 * ```
 */
export function createEmailProviders(settings: EmailProviderSettings = {}, logger?: Logger): EmailProvider[] {
  const source = settings.env ?? process.env;
  let names: readonly EmailProviderName[];
  if (settings.provider !== undefined) {
    names = typeof settings.provider === 'string' ? [settings.provider] : settings.provider;
  } else {
    const raw = source['EMAIL_PROVIDER'];
    names = raw === undefined || raw.trim() === ''
      ? [configValue('EMAIL_PROVIDER', undefined, source)]
      : raw.split(',').map((part) => configValue('EMAIL_PROVIDER', undefined, { EMAIL_PROVIDER: part }));
  }
  if (names.length === 0) throw new ValidationError('provider', 'must name at least one provider');
  return names.map((name, index) => {
    if (!NAMES.includes(name)) throw new ValidationError(`provider[${index}]`, `must be one of ${NAMES.join(', ')}`);
    switch (name) {
      case 'smtp': {
        const user = settings.smtp?.auth?.user ?? readEnv('SMTP_USER', EMAIL_ENV.SMTP_USER, source);
        const pass = settings.smtp?.auth?.pass ?? readEnv('SMTP_PASS', EMAIL_ENV.SMTP_PASS, source);
        const secure = settings.smtp?.secure ?? readEnv('SMTP_SECURE', EMAIL_ENV.SMTP_SECURE, source);
        return new SmtpProvider({
          ...settings.smtp,
          host: configValue('SMTP_HOST', settings.smtp?.host, source),
          port: configValue('SMTP_PORT', settings.smtp?.port, source),
          ...(secure === undefined ? {} : { secure }),
          ...(user !== undefined && pass !== undefined ? { auth: { user, pass } } : {}),
        });
      }
      case 'sendgrid': {
        const apiKey = configValue('SENDGRID_API_KEY', settings.sendgrid?.apiKey, source);
        if (apiKey === undefined) throw new ValidationError('SENDGRID_API_KEY', 'must be set for the sendgrid provider');
        return new SendGridProvider({ ...settings.sendgrid, apiKey });
      }
      case 'ses': {
        const region = configValue('AWS_SES_REGION', settings.ses?.region, source);
        if (region === undefined) throw new ValidationError('AWS_SES_REGION', 'must be set for the ses provider');
        return new SesProvider({ ...settings.ses, region });
      }
      case 'mailgun': {
        const apiKey = settings.mailgun?.apiKey ?? readEnv('MAILGUN_API_KEY', EMAIL_ENV.MAILGUN_API_KEY, source);
        const domain = settings.mailgun?.domain ?? readEnv('MAILGUN_DOMAIN', EMAIL_ENV.MAILGUN_DOMAIN, source);
        if (apiKey === undefined) throw new ValidationError('MAILGUN_API_KEY', 'must be set for the mailgun provider');
        if (domain === undefined) throw new ValidationError('MAILGUN_DOMAIN', 'must be set for the mailgun provider');
        return new MailgunProvider({ ...settings.mailgun, apiKey, domain });
      }
      case 'dev':
        return new DevProvider({
          outputDir: settings.dev?.outputDir ?? readEnv('EMAIL_DEV_DIR', EMAIL_ENV.EMAIL_DEV_DIR, source) ?? '.outbox',
          ...(settings.dev?.logger ?? logger ? { logger: settings.dev?.logger ?? logger } : {}),
        });
    }
  });
}
