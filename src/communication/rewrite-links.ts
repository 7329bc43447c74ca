import type { TrackingSigner } from './tracking-signer.js';

const ANCHOR_HREF = /(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2/gis;
const ENTITY = /&(amp|quot|#39|#x27|lt|gt|#61|#96);/g;
const ENTITIES: Record<string, string> = { amp: '&', quot: '"', '#39': "'", '#x27': "'", lt: '<', gt: '>', '#61': '=', '#96': '`' };

/** Options of {@link rewriteLinks}. */
export interface RewriteLinksOptions {
  signer: TrackingSigner;
  /** Public base URL of the tracking router, without a trailing slash. */
  baseUrl: string;
  messageId: string;
  /** Rewrite `http(s)` links to `/t/c/<token>`. */
  clicks: boolean;
  /** Add a 1×1 pixel `/t/o/<token>.gif`. */
  opens: boolean;
  /** Links never rewritten (the unsubscribe URL). */
  skip?: readonly string[];
}

/**
 * Adds click and open tracking to HTML: each `http(s)` link becomes `/t/c/<token>`, where the
 * token signs (message id, link index, URL), so the redirect endpoint only ever sends people to
 * URLs that were in the message (no open redirect). The pixel token carries only the message id.
 *
 * @example
 * ```ts
 * const html = rewriteLinks('<a href="https://example.com">x</a>', { signer, baseUrl: 'https://t.example.com', messageId, clicks: true, opens: true });
 * ```
 */
export function rewriteLinks(html: string, options: RewriteLinksOptions): string {
  let out = html;
  if (options.clicks) {
    let index = 0;
    const skip = new Set(options.skip ?? []);
    out = out.replace(ANCHOR_HREF, (whole, head: string, quote: string, rawHref: string) => {
      const href = rawHref.trim().replace(ENTITY, (entity, name: string) => ENTITIES[name] ?? entity);
      if (!/^https?:\/\//i.test(href) || skip.has(href)) return whole;
      const token = options.signer.sign('c', [options.messageId, index++, href]);
      return `${head}${quote}${options.baseUrl}/t/c/${token}${quote}`;
    });
  }
  if (options.opens) {
    const token = options.signer.sign('o', [options.messageId]);
    const pixel = `<img src="${options.baseUrl}/t/o/${token}.gif" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
    const close = out.search(/<\/body\s*>/i);
    out = close === -1 ? out + pixel : out.slice(0, close) + pixel + out.slice(close);
  }
  return out;
}
