import type { IncomingMessage } from 'node:http';

/** The single `route` label value of every request that matched no route (404s, scanners). */
export const UNMATCHED_ROUTE = '__unmatched__';

/** The `method` label value of methods outside the HTTP standard set (OTel `_OTHER`). */
export const OTHER_METHOD = '_OTHER';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

// Segments that look like identifiers: numbers, UUIDs, long hex (Mongo ids, hashes), long tokens with digits.
const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{12,}|(?=[^/]*\d)[A-Za-z0-9_-]{20,})$/i;

/**
 * The path of a request target, without its query string.
 *
 * @example
 * ```ts
 * pathOf('/users/42?expand=1'); // '/users/42'
 * ```
 */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The HTTP method as a bounded label value: the standard methods upper-cased, anything else
 * `_OTHER`, so a client sending made-up methods cannot grow the metric series.
 *
 * @example
 * ```ts
 * normalizeMethod('get');   // 'GET'
 * normalizeMethod('BREW');  // '_OTHER'
 * ```
 */
export function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return OTHER_METHOD;
  // The parser's method strings are internalized: these compares are pointer checks.
  if (method === 'GET' || method === 'POST' || KNOWN_METHODS.has(method)) return method;
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : OTHER_METHOD;
}

/** The parts of an Express request the route template is read from. */
interface RoutedRequest extends IncomingMessage {
  route?: { path?: unknown };
  baseUrl?: string;
}

/**
 * The route template of an Express request once routing ran (`/users/:id`, with the mount path
 * of routers in front), never the raw path. Mount paths are the matched URL in Express, so
 * identifier-like segments in them (numbers, UUIDs, long hex or tokens) become `:param`.
 * Requests no route handled give `undefined`, except under a mounted middleware that answered
 * (`app.use('/static', serveStatic(…))` gives `/static/*`).
 *
 * @example
 * ```ts
 * // app.use('/api', router); router.get('/users/:id', …); GET /api/users/42
 * expressRouteTemplate(req); // '/api/users/:id'
 * ```
 */
export function expressRouteTemplate(request: IncomingMessage, statusCode: number): string | undefined {
  const req = request as RoutedRequest;
  const baseUrl = req.baseUrl;
  const base = baseUrl === undefined || baseUrl === '' ? '' : templateOfMountPath(baseUrl);
  const path = req.route?.path;
  if (path === undefined) return base !== '' && statusCode !== 404 ? `${base}/*` : undefined;
  const template = patternText(path);
  if (template === undefined) return base !== '' ? `${base}/*` : undefined;
  if (base === '') return template;
  return template === '/' ? base : `${base}${template}`;
}

function templateOfMountPath(baseUrl: string): string {
  let out = '';
  for (const segment of baseUrl.split('/')) {
    if (segment === '') continue;
    out += ID_SEGMENT.test(segment) ? '/:param' : `/${segment}`;
  }
  return out;
}

/** Express route paths are strings, regular expressions or arrays of them. */
function patternText(path: unknown): string | undefined {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return path.toString();
  if (Array.isArray(path)) {
    const parts = path.map(patternText);
    return parts.every((part) => part !== undefined) ? parts.join('|') : undefined;
  }
  return undefined;
}
