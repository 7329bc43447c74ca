import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import { createSilentLogger, type Logger } from '../../core/logger.js';
import { escapeHtml } from '../templates/compile-template.js';
import type { OutgoingEmail, ProviderSendResult } from '../types.js';
import type { EmailProvider } from './email-provider.js';
import { recipientsOf, toMailOptions } from './mime-message.js';

/** Options of {@link DevProvider}. */
export interface DevProviderOptions {
  /** Folder for `.eml` files and HTML previews. Default `'.outbox'` in the working directory. */
  outputDir?: string;
  /** Logs each message with its paths. Default silent. */
  logger?: Logger;
}

/**
 * Development mode: no network. Each message is written as `<time>-<id>.eml` (the exact MIME a
 * provider would receive; open it in any mail client) plus `<time>-<id>.html`, a preview with the
 * headers on top, and logged with both paths.
 *
 * @example
 * ```ts
 * const dev = new DevProvider({ outputDir: './.outbox', logger });
 * ```
 */
export class DevProvider implements EmailProvider {
  readonly name = 'dev';
  readonly outputDir: string;
  private readonly logger: Logger;

  constructor(options: DevProviderOptions = {}) {
    this.outputDir = resolve(options.outputDir ?? '.outbox');
    this.logger = options.logger ?? createSilentLogger();
  }

  async send(message: OutgoingEmail): Promise<ProviderSendResult> {
    await mkdir(this.outputDir, { recursive: true });
    const base = `${new Date().toISOString().replace(/[:.]/g, '-')}-${message.messageId}`;
    const emlPath = join(this.outputDir, `${base}.eml`);
    const htmlPath = join(this.outputDir, `${base}.html`);
    const raw = await new MailComposer(toMailOptions(message)).compile().build();
    const header = [
      ['From', `${message.from.name} <${message.from.address}>`],
      ['To', message.to.map((entry) => entry.address).join(', ')],
      ['Subject', message.subject],
    ]
      .map(([name, value]) => `<div><b>${name ?? ''}:</b> ${escapeHtml(value ?? '')}</div>`)
      .join('');
    const preview = `<!doctype html><meta charset="utf-8"><div style="font:14px sans-serif;padding:12px;background:#fffbe6;border-bottom:1px solid #e5e7eb">${header}</div>${
      message.html ?? `<pre>${escapeHtml(message.text ?? '')}</pre>`
    }`;
    await Promise.all([writeFile(emlPath, raw), writeFile(htmlPath, preview)]);
    this.logger.info({ messageId: message.messageId, emlPath, htmlPath, to: recipientsOf(message) }, 'email written (dev mode)');
    return { provider: this.name, providerMessageId: message.messageId, accepted: recipientsOf(message), rejected: [] };
  }
}
