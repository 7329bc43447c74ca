import type { AuthContext, AuthRequest } from './auth-context.js';
import { AuthError } from './auth-error.js';
import type { AuthRequirement, WorkspaceAccessOptions } from './auth-requirement.js';
import type { UnifiedAuthMiddleware } from './unified-auth-middleware.js';
import type {} from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `@ux-flow/common/auth` hooks once the request is authenticated. */
    auth?: AuthContext | undefined;
  }
}

/** The part of a Fastify reply the hooks write to (structural: no Fastify types needed). */
export interface FastifyReplyLike {
  code(statusCode: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(payload?: unknown): FastifyReplyLike;
}

/**
 * A Fastify `onRequest`/`preHandler` hook (async form). Resolves to the reply after answering a
 * refusal (Fastify's signal to stop), to `undefined` to continue.
 */
export type FastifyAuthHook = <R extends FastifyReplyLike>(request: AuthRequest, reply: R) => Promise<R | undefined>;

/** The middleware factories of {@link UnifiedAuthMiddleware}, as Fastify hooks. */
export interface FastifyAuth {
  /** Any requirement as a hook. */
  hook(requirement: AuthRequirement): FastifyAuthHook;
  requireAuth(): FastifyAuthHook;
  optionalAuth(): FastifyAuthHook;
  requireRole(role: string): FastifyAuthHook;
  requirePermission(...permissions: string[]): FastifyAuthHook;
  requireAnyPermission(...permissions: string[]): FastifyAuthHook;
  requireWorkspaceAccess(options?: WorkspaceAccessOptions): FastifyAuthHook;
  requireEmailVerified(): FastifyAuthHook;
  requireServiceToken(...allowedServices: string[]): FastifyAuthHook;
  allowUserOrService(...allowedServices: string[]): FastifyAuthHook;
}

/**
 * Fastify adapter: the same checks as the Express factories, as `preHandler` hooks that answer
 * refusals with the RFC 6750 response and set `request.auth`. Use `preHandler` (not `onRequest`)
 * when `requireWorkspaceAccess` reads the body. Hooks are arrays-composable like any Fastify hook.
 *
 * @example
 * ```ts
 * const guard = createFastifyAuth(auth);
 * app.decorateRequest('auth', undefined);
 * app.get('/admin', { preHandler: guard.requireRole('admin') }, async (request) => request.auth?.subject);
 * ```
 */
export function createFastifyAuth(auth: UnifiedAuthMiddleware): FastifyAuth {
  const hook = (requirement: AuthRequirement): FastifyAuthHook => {
    return async (request, reply) => {
      try {
        await auth.protect(request, requirement);
        return undefined;
      } catch (error) {
        if (!AuthError.isInstance(error)) throw error;
        const { status, headers, body } = error.toResponse(auth.realm);
        reply.code(status);
        for (const [name, value] of Object.entries(headers)) reply.header(name, value);
        reply.send(body);
        return reply;
      }
    };
  };
  return {
    hook,
    requireAuth: () => hook({ type: 'auth' }),
    optionalAuth: () => hook({ type: 'auth', optional: true }),
    requireRole: (role) => hook({ type: 'role', role }),
    requirePermission: (...permissions) => hook({ type: 'permissions', mode: 'all', permissions }),
    requireAnyPermission: (...permissions) => hook({ type: 'permissions', mode: 'any', permissions }),
    requireWorkspaceAccess: (options = {}) => hook({ type: 'workspace', options }),
    requireEmailVerified: () => hook({ type: 'email-verified' }),
    requireServiceToken: (...allowedServices) => hook({ type: 'service', services: allowedServices }),
    allowUserOrService: (...allowedServices) => hook({ type: 'user-or-service', services: allowedServices }),
  };
}
