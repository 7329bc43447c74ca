import type { TrackingSigner } from './tracking-signer.js';

// One pass finds every link and the end of the body (where the pixel goes).
const ANCHOR_HREF_OR_BODY_END = /(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2|<\/body\s*>/gis;
const BODY_END = /<\/body\s*>/i;
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
  const { clicks, opens } = options;
  if (!clicks && !opens) return html;
  const pixel = opens
    ? `<img src="${options.baseUrl}/t/o/${options.signer.sign('o', [options.messageId])}.gif" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`
    : '';
  if (!clicks) {
    const close = html.search(BODY_END);
    return close === -1 ? html + pixel : html.slice(0, close) + pixel + html.slice(close);
  }
  let index = 0;
  let placed = !opens;
  const skip = options.skip === undefined || options.skip.length === 0 ? undefined : new Set(options.skip);
  const out = html.replace(ANCHOR_HREF_OR_BODY_END, (whole: string, head: string | undefined, quote: string, rawHref: string) => {
    if (head === undefined) {
      // The first </body>: the pixel goes right before it.
      if (placed) return whole;
      placed = true;
      return pixel + whole;
    }
    const href = rawHref.trim().replace(ENTITY, (entity, name: string) => ENTITIES[name] ?? entity);
    if (!/^https?:\/\//i.test(href) || skip?.has(href) === true) return whole;
    const token = options.signer.sign('c', [options.messageId, index++, href]);
    return `${head}${quote}${options.baseUrl}/t/c/${token}${quote}`;
  });
  return placed ? out : out + pixel;
}
