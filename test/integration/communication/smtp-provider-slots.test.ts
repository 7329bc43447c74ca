import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmailProviderError, SmtpProvider } from '../../../src/communication/index.js';
import type { OutgoingEmail } from '../../../src/communication/types.js';
import { startSmtpPeer, type SmtpPeer } from '../../helpers/communication-peers.js';

let accepting: SmtpPeer;
let refusing: SmtpPeer;

beforeAll(async () => {
  [accepting, refusing] = await Promise.all([startSmtpPeer('accept'), startSmtpPeer('permfail')]);
});

afterAll(async () => {
  await Promise.all([accepting.close(), refusing.close()]);
});

function message(index: number): OutgoingEmail {
  return {
    messageId: `0000000${index}-0000-4000-8000-000000000000`,
    from: { name: 'Flow', address: 'news@flow.example' },
    to: [{ name: '', address: `user${index}@flow.example` }],
    cc: [],
    bcc: [],
    replyTo: undefined,
    subject: `Message ${index}`,
    html: `<p>${'Hello '.repeat(30)}${index}</p>`,
    text: `${'Hello '.repeat(30)}${index}`,
    headers: {},
    attachments: [],
    tags: [],
    template: undefined,
  };
}

describe('SmtpProvider with more messages than connections', () => {
  it('delivers every message once, each with its own content', async () => {
    const provider = new SmtpProvider({ host: '127.0.0.1', port: accepting.port, ignoreTLS: true, maxConnections: 2 });
    try {
      const before = accepting.received.length;
      const results = await Promise.all(Array.from({ length: 12 }, (_, index) => provider.send(message(index))));
      expect(results.every((result) => result.accepted.length === 1)).toBe(true);
      await accepting.waitFor(before + 12);
      const subjects = accepting.received.slice(before).map(({ parsed }) => parsed.subject);
      expect(subjects.sort()).toEqual(Array.from({ length: 12 }, (_, index) => `Message ${index}`).sort());
      for (const { parsed } of accepting.received.slice(before)) {
        const index = (parsed.subject as string).split(' ')[1] as string;
        expect(String(parsed.html)).toContain(`Hello ${index}</p>`);
      }
    } finally {
      await provider.close();
    }
  });

  it('frees the connection of a refused message for the next one', async () => {
    const provider = new SmtpProvider({ host: '127.0.0.1', port: refusing.port, ignoreTLS: true, maxConnections: 1 });
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 4 }, (_, index) => provider.send(message(index))));
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const error = (outcome as PromiseRejectedResult).reason as unknown;
        expect(EmailProviderError.isInstance(error) && error.failure === 'permanent').toBe(true);
      }
    } finally {
      await provider.close();
    }
  });
});
