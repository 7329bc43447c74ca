import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AnthropicAdapter } from '../../../src/ai/llm/anthropic-adapter.js';
import { GeminiAdapter } from '../../../src/ai/llm/gemini-adapter.js';
import { LlmError } from '../../../src/ai/llm/llm-error.js';
import { OpenAIAdapter } from '../../../src/ai/llm/openai-adapter.js';
import { RetryError } from '../../../src/core/retry-error.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  at: number;
}

type Reply = { status: number; headers?: Record<string, string>; body: unknown } | 'hang';

/** A local stand-in for a provider: records each request and answers from a script. */
let server: Server;
let baseUrl: string;
let seen: Seen[] = [];
let script: Reply[] = [];
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(raw || '{}'), at: performance.now() });
      const reply = script.shift() ?? { status: 500, body: { error: { message: 'script exhausted' } } };
      if (reply === 'hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  script = [];
});

const fast = { type: 'fixed', delayMs: 10 } as const;

describe('AnthropicAdapter against a local Messages API', () => {
  const ok = {
    status: 200,
    body: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-test-1',
      content: [{ type: 'text', text: 'Hello' }, { type: 'text', text: ' there' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 12, output_tokens: 3 },
    },
  };

  it('sends the Messages request shape and headers and reads text, usage and cost', async () => {
    script = [ok];
    const llm = new AnthropicAdapter({ apiKey: 'sk-ant-test', model: 'claude-test', baseUrl, pricing: { inputPerMillionUsd: 3, outputPerMillionUsd: 15 } });
    const result = await llm.complete({ system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 50, temperature: 0.2, stop: ['END'] });
    const [request] = seen;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/messages' });
    expect(request!.headers['x-api-key']).toBe('sk-ant-test');
    expect(request!.headers['anthropic-version']).toBe('2023-06-01');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['authorization']).toBeUndefined();
    expect(request!.body).toEqual({
      model: 'claude-test',
      max_tokens: 50,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hi' }],
      temperature: 0.2,
      stop_sequences: ['END'],
    });
    expect(result).toMatchObject({ text: 'Hello there', usage: { inputTokens: 12, outputTokens: 3 }, model: 'claude-test-1', finishReason: 'end_turn' });
    expect(result.costUsd).toBeCloseTo((12 * 3 + 3 * 15) / 1e6, 12);
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('waits the Retry-After of a 429 before trying again', async () => {
    script = [{ status: 429, headers: { 'retry-after': '1' }, body: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } } }, ok];
    const llm = new AnthropicAdapter({ apiKey: 'k', model: 'claude-test', baseUrl, backoff: fast });
    const result = await llm.complete({ messages: [{ role: 'user', content: 'Hi' }] });
    expect(result.text).toBe('Hello there');
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    expect(seen[0]!.body['max_tokens']).toBe(1024);
  });

  it('retries overloaded 529 answers and gives up with the last provider error as cause', async () => {
    const overloaded = { status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } };
    script = [overloaded, overloaded, overloaded];
    const llm = new AnthropicAdapter({ apiKey: 'k', model: 'claude-test', baseUrl, backoff: fast, attempts: 3 });
    const error = await llm.complete({ messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(RetryError.isInstance(error)).toBe(true);
    const cause = (error as RetryError).cause;
    expect(LlmError.isInstance(cause) && cause.status).toBe(529);
    expect((cause as LlmError).message).toContain('Overloaded');
    expect(seen).toHaveLength(3);
  });
});

describe('OpenAIAdapter against a local Chat Completions API', () => {
  const ok = {
    status: 200,
    body: {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'gpt-test-0613',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Paris' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 20, completion_tokens: 1, total_tokens: 21 },
    },
  };

  it('sends a Bearer key, the system message first and max_completion_tokens', async () => {
    script = [ok];
    const llm = new OpenAIAdapter({ apiKey: 'sk-test', model: 'gpt-test', baseUrl: `${baseUrl}/v1/`, organization: 'org-1' });
    const result = await llm.complete({
      system: 'Answer in one word.',
      messages: [
        { role: 'user', content: 'Capital of France?' },
        { role: 'assistant', content: 'Paris' },
        { role: 'user', content: 'Again?' },
      ],
      maxTokens: 5,
    });
    const [request] = seen;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/chat/completions' });
    expect(request!.headers['authorization']).toBe('Bearer sk-test');
    expect(request!.headers['openai-organization']).toBe('org-1');
    expect(request!.body).toEqual({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'Answer in one word.' },
        { role: 'user', content: 'Capital of France?' },
        { role: 'assistant', content: 'Paris' },
        { role: 'user', content: 'Again?' },
      ],
      max_completion_tokens: 5,
    });
    expect(result).toMatchObject({ text: 'Paris', usage: { inputTokens: 20, outputTokens: 1 }, finishReason: 'stop', model: 'gpt-test-0613' });
  });

  it('retries 500 and 503, honouring retry-after-ms', async () => {
    script = [
      { status: 500, body: { error: { message: 'boom', type: 'server_error' } } },
      { status: 503, headers: { 'retry-after-ms': '300' }, body: { error: { message: 'busy' } } },
      ok,
    ];
    const llm = new OpenAIAdapter({ apiKey: 'k', model: 'gpt-test', baseUrl: `${baseUrl}/v1`, backoff: fast, maxTokensField: 'max_tokens' });
    expect((await llm.complete({ messages: [{ role: 'user', content: 'x' }] })).text).toBe('Paris');
    expect(seen).toHaveLength(3);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(280);
    expect(seen[0]!.body['max_tokens']).toBe(1024);
  });

  it('does not retry a 400 and reports the provider message', async () => {
    script = [{ status: 400, body: { error: { message: "Invalid 'messages'", type: 'invalid_request_error' } } }];
    const llm = new OpenAIAdapter({ apiKey: 'k', model: 'gpt-test', baseUrl: `${baseUrl}/v1`, backoff: fast });
    const error = await llm.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(LlmError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ status: 400, transient: false, provider: 'openai', message: "openai: HTTP 400: Invalid 'messages'" });
    expect(seen).toHaveLength(1);
  });

  it('fails at once when Retry-After exceeds maxRetryAfterMs', async () => {
    script = [{ status: 429, headers: { 'retry-after': '3600' }, body: { error: { message: 'quota' } } }];
    const llm = new OpenAIAdapter({ apiKey: 'k', model: 'gpt-test', baseUrl: `${baseUrl}/v1`, backoff: fast, maxRetryAfterMs: 5000 });
    const error = await llm.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 3_600_000, transient: false });
    expect(seen).toHaveLength(1);
  });

  it('times out a hanging attempt and retries it', async () => {
    script = ['hang', ok];
    const llm = new OpenAIAdapter({ apiKey: 'k', model: 'gpt-test', baseUrl: `${baseUrl}/v1`, backoff: fast, timeoutMs: 200 });
    expect((await llm.complete({ messages: [{ role: 'user', content: 'x' }] })).text).toBe('Paris');
    expect(seen).toHaveLength(2);
  });
});

describe('GeminiAdapter against a local generateContent API', () => {
  it('sends contents with user/model roles, systemInstruction and generationConfig', async () => {
    script = [
      {
        status: 200,
        body: {
          candidates: [{ content: { role: 'model', parts: [{ text: 'Bonjour' }, { text: '!' }] }, finishReason: 'STOP', index: 0 }],
          usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 2, totalTokenCount: 9 },
          modelVersion: 'gemini-test-001',
        },
      },
    ];
    const llm = new GeminiAdapter({ apiKey: 'g-key', model: 'gemini-test', baseUrl });
    const result = await llm.complete({
      system: 'Translate to French.',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Salut' },
        { role: 'user', content: 'Hello' },
      ],
      maxTokens: 20,
      temperature: 0,
    });
    const [request] = seen;
    expect(request).toMatchObject({ method: 'POST', url: '/v1beta/models/gemini-test:generateContent' });
    expect(request!.headers['x-goog-api-key']).toBe('g-key');
    expect(request!.body).toEqual({
      contents: [
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'model', parts: [{ text: 'Salut' }] },
        { role: 'user', parts: [{ text: 'Hello' }] },
      ],
      systemInstruction: { parts: [{ text: 'Translate to French.' }] },
      generationConfig: { maxOutputTokens: 20, temperature: 0 },
    });
    expect(result).toMatchObject({ text: 'Bonjour!', usage: { inputTokens: 7, outputTokens: 2 }, finishReason: 'STOP', model: 'gemini-test-001' });
  });

  it('retries a 503 with an HTTP-date Retry-After and reports a blocked prompt without retrying', async () => {
    script = [
      { status: 503, headers: { 'retry-after': new Date(Date.now() + 200).toUTCString() }, body: { error: { code: 503, message: 'unavailable', status: 'UNAVAILABLE' } } },
      { status: 200, body: { promptFeedback: { blockReason: 'SAFETY' } } },
    ];
    const llm = new GeminiAdapter({ apiKey: 'g', model: 'gemini-test', baseUrl, backoff: fast });
    const error = await llm.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(LlmError.isInstance(error) && error.message).toBe('gemini: prompt blocked (SAFETY)');
    expect(seen).toHaveLength(2);
  });
});
