/**
 * The email path when Redis is absent. `EnhancedEmailService` keeps idempotency keys, the
 * suppression list, caps and statistics in Redis and has no in-memory store, so without Redis
 * the demo renders the same built-in templates with the block's `TemplateRegistry` and writes
 * them with its `DevProvider` (to `.outbox/`). No tracking, caps or idempotency in this mode.
 */
import { randomUUID } from 'node:crypto';
import {
  DevProvider,
  EMAIL_SEND_JOB,
  type EmailSendJobData,
  parseEmailAddress,
  parseEmailAddressList,
  type SendEmailInput,
  type SendEmailResult,
  TemplateRegistry,
} from '@ux-flow/common/communication';
import type { MessageQueue } from '@ux-flow/common/queue';
import { UnrecoverableError } from '@ux-flow/common/queue';

/** Options of {@link LocalMailer}. */
export interface LocalMailerOptions {
  defaultFrom: string;
  templateDefaults: Readonly<Record<string, unknown>>;
  /** Default `.outbox`. */
  outputDir?: string;
}

/** Renders and writes `email_send` jobs without Redis; counts what it did. */
export class LocalMailer {
  readonly counts = { sent: 0, failed: 0 };
  readonly outputDir: string;
  private readonly templates = new TemplateRegistry();
  private readonly provider: DevProvider;

  constructor(private readonly options: LocalMailerOptions) {
    this.provider = new DevProvider({ outputDir: options.outputDir ?? '.outbox' });
    this.outputDir = this.provider.outputDir;
  }

  /** Enqueues a message the way `EnhancedEmailService.queueEmail` does (same job type and payload). */
  async queueEmail(queue: MessageQueue, input: SendEmailInput): Promise<string> {
    const idempotencyKey = input.idempotencyKey ?? randomUUID();
    const data: EmailSendJobData = { v: 1, message: { ...input, idempotencyKey } };
    return queue.add(EMAIL_SEND_JOB, data, { jobId: `email:${idempotencyKey}`, attempts: 5 });
  }

  /** The `email_send` processor of this mode. */
  async processSendEmail(jobData: unknown): Promise<SendEmailResult> {
    const message = (jobData as Partial<EmailSendJobData> | null)?.message;
    if (message === undefined) throw new UnrecoverableError('email_send job data has no message');
    try {
      const rendered = message.template === undefined ? undefined : await this.templates.render(message.template, { ...this.options.templateDefaults, ...message.data });
      const messageId = randomUUID();
      const to = parseEmailAddressList(message.to, 'to');
      const result = await this.provider.send({
        messageId,
        from: parseEmailAddress(message.from ?? this.options.defaultFrom, 'from'),
        to,
        cc: [],
        bcc: [],
        replyTo: undefined,
        subject: rendered?.subject ?? message.subject ?? '',
        html: rendered?.html ?? message.html,
        text: rendered?.text ?? message.text,
        headers: {},
        attachments: [],
        tags: [...(message.tags ?? [])],
        template: message.template,
      });
      this.counts.sent++;
      return { messageId, status: 'sent', provider: result.provider, providerMessageId: result.providerMessageId, accepted: [...result.accepted], rejected: [], suppressed: [] };
    } catch (error) {
      this.counts.failed++;
      throw error;
    }
  }
}
