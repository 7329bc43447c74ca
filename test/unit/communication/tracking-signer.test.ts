import { describe, expect, it } from 'vitest';
import { rewriteLinks, TrackingSigner } from '../../../src/communication/index.js';

const secret = 'k'.repeat(32);

describe('TrackingSigner', () => {
  it('round-trips a payload and rejects other kinds, other secrets and any altered character', () => {
    const signer = new TrackingSigner([secret]);
    const token = signer.sign('c', ['m1', 0, 'https://example.com/a']);
    expect(signer.verify('c', token)).toEqual(['m1', 0, 'https://example.com/a']);
    expect(signer.verify('o', token)).toBeUndefined();
    expect(new TrackingSigner(['z'.repeat(32)]).verify('c', token)).toBeUndefined();
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      const altered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
      expect(signer.verify('c', altered), `position ${i}`).toBeUndefined();
    }
  });

  it('verifies tokens signed with a previous secret during rotation', () => {
    const old = new TrackingSigner([secret]);
    const rotated = new TrackingSigner(['n'.repeat(32), secret]);
    expect(rotated.verify('u', old.sign('u', ['a@example.com', 'news', 'm']))).toEqual(['a@example.com', 'news', 'm']);
  });

  it('refuses secrets shorter than 32 bytes', () => {
    expect(() => new TrackingSigner(['short'])).toThrow(/"tracking.secret" must be at least 32 bytes/);
  });
});

describe('rewriteLinks', () => {
  it('rewrites http(s) links with decoded URLs, skips mailto and the unsubscribe link, and adds one pixel', () => {
    const signer = new TrackingSigner([secret]);
    const html = '<html><body><a href="https://a.example/?x=1&amp;y=2">A</a><a href="mailto:x@example.com">M</a><a class="u" href=\'https://u.example/u/1\'>U</a></body></html>';
    const out = rewriteLinks(html, { signer, baseUrl: 'https://t.example', messageId: 'm1', clicks: true, opens: true, skip: ['https://u.example/u/1'] });
    const token = /https:\/\/t\.example\/t\/c\/([^"]+)"/.exec(out)![1]!;
    expect(signer.verify('c', token)).toEqual(['m1', 0, 'https://a.example/?x=1&y=2']);
    expect(out).toContain('href="mailto:x@example.com"');
    expect(out).toContain("href='https://u.example/u/1'");
    expect(out.match(/\/t\/o\//g)).toHaveLength(1);
    expect(out.indexOf('/t/o/')).toBeLessThan(out.indexOf('</body>'));
  });
});
