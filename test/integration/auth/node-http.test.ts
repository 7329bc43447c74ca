import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type AuthRequest, UnifiedAuthMiddleware } from '../../../src/auth/index.js';

describe('plain node:http', () => {
  it('guards a node:http handler with the connect-style middleware and the RFC 6750 answer', async () => {
    const auth = new UnifiedAuthMiddleware({
      userTokens: { issuer: 'https://id.test/', audience: 'flow-api', algorithms: ['HS512'], secret: 'z'.repeat(64) },
      realm: 'flow',
      env: {},
    });
    const guard = auth.requirePermission('flows:read');
    const server = createServer((req, res) => {
      const request: AuthRequest = req;
      guard(request, res, (error) => {
        res.statusCode = error === undefined ? 200 : 500;
        res.end(JSON.stringify({ subject: request.auth?.subject ?? null }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const ok = await fetch(url, { headers: { authorization: `Bearer ${await auth.issueUserToken({ subject: 'u1', permissions: ['flows:read'] })}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ subject: 'u1' });
      const denied = await fetch(url, { headers: { authorization: `Bearer ${await auth.issueUserToken({ subject: 'u2' })}` } });
      expect(denied.status).toBe(403);
      expect(denied.headers.get('www-authenticate')).toBe(
        'Bearer realm="flow", error="insufficient_scope", error_description="A permission is missing", scope="flows:read"',
      );
      expect(await denied.json()).toEqual({ error: 'insufficient_scope', code: 'permission_required', message: 'A permission is missing' });
      const missing = await fetch(url);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="flow"');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
