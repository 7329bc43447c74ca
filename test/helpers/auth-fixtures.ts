/**
 * Shared fixtures of the auth tests: real key pairs, a local JWKS server, and the same routes
 * mounted on Express and on Fastify so every case runs over real HTTP on both.
 */
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, type JWK } from 'jose';
import { createFastifyAuth, type UnifiedAuthMiddleware } from '../../src/auth/index.js';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
  publicPem: string;
}

export async function keyPair(type: 'rsa' | 'ec' | 'ed25519', kid: string): Promise<KeyPair> {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid };
  return {
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicJwk,
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function secret(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** A JWKS endpoint on loopback: `mode` switches between serving keys, failing and hanging. */
export class JwksServer {
  mode: 'ok' | 'error' | 'hang' = 'ok';
  requests = 0;
  private readonly server: Server;
  constructor(public keys: JWK[]) {
    this.server = createServer((req, res) => {
      this.requests++;
      if (this.mode === 'hang') return; // never answers: the client's timeout must fire
      if (this.mode === 'error') {
        res.statusCode = 500;
        res.end('boom');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: this.keys }));
    });
  }
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on (bound then released). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/jwks`;
}

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

const reply = (auth: { kind: string; subject: string; workspaceId?: string | undefined } | undefined) => ({
  kind: auth?.kind ?? null,
  subject: auth?.subject ?? null,
  workspaceId: auth?.workspaceId ?? null,
});

/** The test routes on Express, guards composed as arrays. */
export async function startExpress(auth: UnifiedAuthMiddleware): Promise<RunningApp> {
  const app = express();
  app.use(express.json());
  const ok: express.RequestHandler = (req, res) => {
    res.json(reply(req.auth));
  };
  app.get('/user', auth.requireAuth(), ok);
  app.get('/optional', auth.optionalAuth(), ok);
  app.get('/admin', [auth.requireAuth(), auth.requireRole('admin')], ok);
  app.get('/super', auth.requireRole('super_admin'), ok);
  app.get('/perm', auth.requirePermission('flows:write'), ok);
  app.get('/anyperm', auth.requireAnyPermission('reports:read', 'reports:admin'), ok);
  app.get('/w/:workspaceId', auth.requireWorkspaceAccess({ roles: ['editor'] }), ok);
  app.post('/w-body', auth.requireWorkspaceAccess(), ok);
  app.get('/verified', auth.requireEmailVerified(), ok);
  app.get('/svc', auth.requireServiceToken('flow-worker'), ok);
  app.get('/svc-billing', auth.requireServiceToken('billing'), ok);
  app.get('/either', auth.allowUserOrService('flow-worker'), ok);
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The same routes on Fastify through the adapter. */
export async function startFastify(auth: UnifiedAuthMiddleware): Promise<RunningApp> {
  const app: FastifyInstance = Fastify();
  app.decorateRequest('auth', undefined);
  const guard = createFastifyAuth(auth);
  const ok = async (request: { auth?: Parameters<typeof reply>[0] }) => reply(request.auth);
  app.get('/user', { preHandler: guard.requireAuth() }, ok);
  app.get('/optional', { preHandler: guard.optionalAuth() }, ok);
  app.get('/admin', { preHandler: [guard.requireAuth(), guard.requireRole('admin')] }, ok);
  app.get('/super', { preHandler: guard.requireRole('super_admin') }, ok);
  app.get('/perm', { preHandler: guard.requirePermission('flows:write') }, ok);
  app.get('/anyperm', { preHandler: guard.requireAnyPermission('reports:read', 'reports:admin') }, ok);
  app.get('/w/:workspaceId', { preHandler: guard.requireWorkspaceAccess({ roles: ['editor'] }) }, ok);
  app.post('/w-body', { preHandler: guard.requireWorkspaceAccess() }, ok);
  app.get('/verified', { preHandler: guard.requireEmailVerified() }, ok);
  app.get('/svc', { preHandler: guard.requireServiceToken('flow-worker') }, ok);
  app.get('/svc-billing', { preHandler: guard.requireServiceToken('billing') }, ok);
  app.get('/either', { preHandler: guard.allowUserOrService('flow-worker') }, ok);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/** A request and what came back, headers lower-cased. */
export interface HttpResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function call(
  base: string,
  path: string,
  options: { token?: string; authorization?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  const init: RequestInit = { headers };
  if (options.body !== undefined) {
    init.method = 'POST';
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
