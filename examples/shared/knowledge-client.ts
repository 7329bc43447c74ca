/**
 * Calls knowledge-service with a short-lived service token (`issueServiceToken`), through the
 * tracer's `traceFetch` so the call is a CLIENT span and the trace continues on the other side.
 */
import type { UnifiedAuthMiddleware } from '@ux-flow/common';
import type { DistributedTracer } from '@ux-flow/common/monitoring';
import { SERVICES } from './dev-config.js';

/** A typed client of the knowledge-service endpoints the examples use. */
export interface KnowledgeClient {
  guidelines(topic: string, signal?: AbortSignal): Promise<{ id: string; text: string }[]>;
  indexFlow(flow: { flowId: string; workspaceId: string; title: string; steps: number }, signal?: AbortSignal): Promise<void>;
}

const TOKEN_TTL_SEC = 60;

/** Builds the client; tokens are reused for half their lifetime. */
export function createKnowledgeClient(baseUrl: string, auth: UnifiedAuthMiddleware, tracer: DistributedTracer | undefined): KnowledgeClient {
  let cached: { token: Promise<string>; renewAt: number } | undefined;
  const token = (): Promise<string> => {
    if (cached === undefined || Date.now() >= cached.renewAt) {
      const issued = auth.issueServiceToken({ audience: SERVICES.knowledge, ttlSec: TOKEN_TTL_SEC });
      cached = { token: issued, renewAt: Date.now() + (TOKEN_TTL_SEC * 1000) / 2 };
      issued.catch(() => (cached = undefined));
    }
    return cached.token;
  };
  const call = async (path: string, init: RequestInit): Promise<Response> => {
    const headers = { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${await token()}` };
    const request = { ...init, headers };
    const response = tracer === undefined ? await fetch(`${baseUrl}${path}`, request) : await tracer.traceFetch(`${baseUrl}${path}`, request);
    if (!response.ok) {
      const body = await response.text();
      throw new Error(`knowledge-service ${init.method ?? 'GET'} ${path} answered ${response.status}: ${body.slice(0, 200)}`);
    }
    return response;
  };
  return {
    async guidelines(topic, signal) {
      const response = await call(`/internal/guidelines?topic=${encodeURIComponent(topic)}`, { method: 'GET', ...(signal === undefined ? {} : { signal }) });
      const body = (await response.json()) as { guidelines: { id: string; text: string }[] };
      return body.guidelines;
    },
    async indexFlow(flow, signal) {
      await call('/internal/flows', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(flow),
        ...(signal === undefined ? {} : { signal }),
      });
    },
  };
}
