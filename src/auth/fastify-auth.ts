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
  /** Sets the status code. */
  code(statusCode: number): FastifyReplyLike;
  /** Sets a response header. */
  header(name: string, value: string): FastifyReplyLike;
  /** Sends the body and ends the reply. */
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
  /** A valid user or service token is required (401 otherwise). */
  requireAuth(): FastifyAuthHook;
  /** Authenticates when a token is present; anonymous requests pass without `request.auth`. */
  optionalAuth(): FastifyAuthHook;
  /** The user holds `role` or a role above it in the hierarchy (403 otherwise). */
  requireRole(role: string): FastifyAuthHook;
  /** The caller holds every listed permission. */
  requirePermission(...permissions: string[]): FastifyAuthHook;
  /** The caller holds at least one listed permission. */
  requireAnyPermission(...permissions: string[]): FastifyAuthHook;
  /** The user is a member of the request's workspace (with a workspace role, when given). */
  requireWorkspaceAccess(options?: WorkspaceAccessOptions): FastifyAuthHook;
  /** The user's email address is verified. */
  requireEmailVerified(): FastifyAuthHook;
  /** A service token is required, from one of the listed services when any are given. */
  requireServiceToken(...allowedServices: string[]): FastifyAuthHook;
  /** Either a user token, or a service token from one of the listed services. */
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
