/**
 * A local trace collector for the monitoring tests: receives Zipkin v2 JSON (POST /api/v2/spans)
 * and OTLP/HTTP JSON (POST /v1/traces), validates both against their schemas, and keeps the
 * spans in one normalized shape. Invalid payloads are answered 400 and recorded in `problems`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CollectedSpan {
  format: 'zipkin' | 'otlp';
  service: string;
  traceId: string;
  spanId: string;
  parentId: string | undefined;
  name: string;
  kind: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER' | 'INTERNAL';
  /** Microseconds since the epoch. */
  startMicros: number;
  durationMicros: number;
  attributes: Record<string, string | number | boolean>;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ZIPKIN_KINDS = new Set(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER']);
const OTLP_KINDS = ['INTERNAL', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const; // 0 unspecified, 1 internal, …

export class TraceCollector {
  readonly spans: CollectedSpan[] = [];
  readonly problems: string[] = [];
  readonly requests: { path: string; contentType: string | undefined }[] = [];
  private readonly server: Server;
  private waiters: { predicate: () => boolean; resolve: () => void }[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = (req.url ?? '').split('?')[0] ?? '';
        this.requests.push({ path, contentType: req.headers['content-type'] });
        const before = this.problems.length;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          this.problems.push(`${path}: body is not JSON`);
        }
        if (req.method !== 'POST') this.problems.push(`${path}: method ${req.method}`);
        if (!(req.headers['content-type'] ?? '').startsWith('application/json')) this.problems.push(`${path}: content-type ${req.headers['content-type']}`);
        if (body !== undefined) {
          if (path === '/api/v2/spans') this.zipkin(body);
          else if (path === '/v1/traces') this.otlp(body);
          else this.problems.push(`unexpected path ${path}`);
        }
        const ok = this.problems.length === before;
        res.statusCode = ok ? (path === '/api/v2/spans' ? 202 : 200) : 400;
        res.setHeader('content-type', 'application/json');
        res.end(path === '/v1/traces' && ok ? '{}' : '');
        this.notify();
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves once `predicate` holds (checked after every received payload). */
  waitFor(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`collector: condition not met in ${timeoutMs} ms; spans: ${JSON.stringify(this.spans.map((s) => s.name))}; problems: ${this.problems.join('; ')}`)), timeoutMs);
      this.waiters.push({ predicate, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  private notify(): void {
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.predicate()) return true;
      waiter.resolve();
      return false;
    });
  }

  private zipkin(body: unknown): void {
    if (!Array.isArray(body)) {
      this.problems.push('zipkin: body is not an array');
      return;
    }
    for (const [index, raw] of body.entries()) {
      const at = `zipkin[${index}]`;
      if (typeof raw !== 'object' || raw === null) {
        this.problems.push(`${at}: not an object`);
        continue;
      }
      const span = raw as Record<string, unknown>;
      const traceId = span['traceId'];
      if (typeof traceId !== 'string' || !(HEX16.test(traceId) || HEX32.test(traceId))) this.problems.push(`${at}.traceId: ${String(traceId)}`);
      if (typeof span['id'] !== 'string' || !HEX16.test(span['id'])) this.problems.push(`${at}.id: ${String(span['id'])}`);
      if (span['parentId'] !== undefined && (typeof span['parentId'] !== 'string' || !HEX16.test(span['parentId']))) this.problems.push(`${at}.parentId: ${JSON.stringify(span['parentId'])}`);
      if (typeof span['name'] !== 'string') this.problems.push(`${at}.name missing`);
      const timestamp = span['timestamp'];
      // Microseconds since the epoch: 16 digits today (milliseconds would be 13, nanoseconds 19).
      if (!Number.isSafeInteger(timestamp) || (timestamp as number) < 1e15 || (timestamp as number) >= 1e17) this.problems.push(`${at}.timestamp not integer microseconds: ${String(timestamp)}`);
      const duration = span['duration'];
      if (!Number.isSafeInteger(duration) || (duration as number) < 0 || (duration as number) > 3.6e9) this.problems.push(`${at}.duration not integer microseconds: ${String(duration)}`);
      const kind = span['kind'];
      if (kind !== undefined && (typeof kind !== 'string' || !ZIPKIN_KINDS.has(kind))) this.problems.push(`${at}.kind: ${JSON.stringify(kind)}`);
      const endpoint = span['localEndpoint'] as Record<string, unknown> | undefined;
      if (typeof endpoint?.['serviceName'] !== 'string' || endpoint['serviceName'] === '') this.problems.push(`${at}.localEndpoint.serviceName missing`);
      const tags = (span['tags'] ?? {}) as Record<string, unknown>;
      for (const [key, value] of Object.entries(tags)) {
        if (typeof value !== 'string') this.problems.push(`${at}.tags.${key} is not a string`);
      }
      this.spans.push({
        format: 'zipkin',
        service: String(endpoint?.['serviceName']),
        traceId: String(traceId),
        spanId: String(span['id']),
        parentId: span['parentId'] as string | undefined,
        name: String(span['name']),
        kind: (kind as CollectedSpan['kind'] | undefined) ?? 'INTERNAL',
        startMicros: Number(timestamp),
        durationMicros: Number(duration),
        attributes: tags as Record<string, string>,
      });
    }
  }

  private otlp(body: unknown): void {
    const resourceSpans = (body as { resourceSpans?: unknown }).resourceSpans;
    if (!Array.isArray(resourceSpans)) {
      this.problems.push('otlp: resourceSpans is not an array');
      return;
    }
    for (const [r, resourceSpan] of resourceSpans.entries()) {
      const resourceAttributes = attributesOf((resourceSpan as { resource?: { attributes?: unknown } }).resource?.attributes, `otlp.resourceSpans[${r}].resource`, this.problems);
      const service = resourceAttributes['service.name'];
      if (typeof service !== 'string') this.problems.push(`otlp.resourceSpans[${r}]: no service.name`);
      const scopeSpans = (resourceSpan as { scopeSpans?: unknown }).scopeSpans;
      if (!Array.isArray(scopeSpans)) {
        this.problems.push(`otlp.resourceSpans[${r}].scopeSpans is not an array`);
        continue;
      }
      for (const [s, scopeSpan] of scopeSpans.entries()) {
        const spans = (scopeSpan as { spans?: unknown }).spans;
        if (!Array.isArray(spans)) {
          this.problems.push(`otlp scopeSpans[${s}].spans is not an array`);
          continue;
        }
        for (const [i, raw] of spans.entries()) {
          const at = `otlp.resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
          const span = raw as Record<string, unknown>;
          if (typeof span['traceId'] !== 'string' || !HEX32.test(span['traceId'])) this.problems.push(`${at}.traceId: ${String(span['traceId'])}`);
          if (typeof span['spanId'] !== 'string' || !HEX16.test(span['spanId'])) this.problems.push(`${at}.spanId: ${String(span['spanId'])}`);
          const parent = span['parentSpanId'];
          if (parent !== undefined && parent !== '' && (typeof parent !== 'string' || !HEX16.test(parent))) this.problems.push(`${at}.parentSpanId: ${JSON.stringify(parent)}`);
          const kind = span['kind'];
          if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 5) this.problems.push(`${at}.kind is not an enum integer: ${String(kind)}`);
          const start = span['startTimeUnixNano'];
          const end = span['endTimeUnixNano'];
          // 64-bit integers are decimal strings in OTLP JSON.
          if (typeof start !== 'string' || !/^\d{19}$/.test(start)) this.problems.push(`${at}.startTimeUnixNano not a decimal nanosecond string: ${String(start)}`);
          if (typeof end !== 'string' || !/^\d{19}$/.test(end)) this.problems.push(`${at}.endTimeUnixNano not a decimal nanosecond string: ${String(end)}`);
          if (typeof start === 'string' && typeof end === 'string' && BigInt(end) < BigInt(start)) this.problems.push(`${at}: ends before it starts`);
          const status = span['status'] as { code?: unknown } | undefined;
          if (status?.code !== undefined && (typeof status.code !== 'number' || ![0, 1, 2].includes(status.code))) this.problems.push(`${at}.status.code: ${JSON.stringify(status.code)}`);
          const attributes = attributesOf(span['attributes'], at, this.problems);
          const startNanos = typeof start === 'string' ? BigInt(start) : 0n;
          const endNanos = typeof end === 'string' ? BigInt(end) : 0n;
          this.spans.push({
            format: 'otlp',
            service: String(service),
            traceId: String(span['traceId']),
            spanId: String(span['spanId']),
            parentId: typeof parent === 'string' && parent !== '' ? parent : undefined,
            name: String(span['name']),
            kind: OTLP_KINDS[typeof kind === 'number' ? kind : 0] ?? 'INTERNAL',
            startMicros: Number(startNanos / 1000n),
            durationMicros: Number((endNanos - startNanos) / 1000n),
            attributes,
          });
        }
      }
    }
  }
}

function attributesOf(raw: unknown, at: string, problems: string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (raw === undefined) return out;
  if (!Array.isArray(raw)) {
    problems.push(`${at}.attributes is not an array`);
    return out;
  }
  for (const entry of raw as { key?: unknown; value?: Record<string, unknown> }[]) {
    if (typeof entry.key !== 'string' || typeof entry.value !== 'object') {
      problems.push(`${at}.attributes: malformed entry ${JSON.stringify(entry)}`);
      continue;
    }
    const value = entry.value;
    if (typeof value['stringValue'] === 'string') out[entry.key] = value['stringValue'];
    else if (typeof value['boolValue'] === 'boolean') out[entry.key] = value['boolValue'];
    else if (typeof value['doubleValue'] === 'number') out[entry.key] = value['doubleValue'];
    // int64 values may be JSON numbers or decimal strings.
    else if (typeof value['intValue'] === 'number' || (typeof value['intValue'] === 'string' && /^-?\d+$/.test(value['intValue']))) out[entry.key] = Number(value['intValue']);
    else problems.push(`${at}.attributes.${entry.key}: unsupported value ${JSON.stringify(value)}`);
  }
  return out;
}
