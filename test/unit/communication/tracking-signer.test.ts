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

  it('puts the pixel before the first </body>, or at the end without one, and tracks only what is asked', () => {
    const signer = new TrackingSigner([secret]);
    const base = { signer, baseUrl: 'https://t.example', messageId: 'm2' };
    const twice = rewriteLinks('<body><a href="https://a.example/">A</a></BODY ><p>x</p></body>', { ...base, clicks: true, opens: true });
    expect(twice.match(/\/t\/o\//g)).toHaveLength(1);
    expect(twice.indexOf('/t/o/')).toBeLessThan(twice.indexOf('</BODY >'));
    expect(signer.verify('o', /\/t\/o\/([^"]+)\.gif/.exec(twice)![1]!)).toEqual(['m2']);
    const bodyless = rewriteLinks('<a href="https://a.example/">A</a><a href="https://b.example/">B</a>', { ...base, clicks: true, opens: true });
    expect(bodyless).toMatch(/<\/a><img src="https:\/\/t\.example\/t\/o\/[^"]+\.gif"[^>]*\/>$/);
    const tokens = [...bodyless.matchAll(/\/t\/c\/([^"]+)"/g)].map((match) => signer.verify('c', match[1]!));
    expect(tokens).toEqual([['m2', 0, 'https://a.example/'], ['m2', 1, 'https://b.example/']]);
    const opensOnly = rewriteLinks('<body><a href="https://a.example/">A</a></body>', { ...base, clicks: false, opens: true });
    expect(opensOnly).toContain('href="https://a.example/"');
    expect(opensOnly.indexOf('/t/o/')).toBeLessThan(opensOnly.indexOf('</body>'));
    const clicksOnly = rewriteLinks('<body><a href="https://a.example/">A</a></body>', { ...base, clicks: true, opens: false });
    expect(clicksOnly).not.toContain('/t/o/');
    expect(clicksOnly).not.toContain('https://a.example/');
    expect(rewriteLinks('<body></body>', { ...base, clicks: false, opens: false })).toBe('<body></body>');
  });
});
