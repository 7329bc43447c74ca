/**
 * Authentication and authorization for services: {@link UnifiedAuthMiddleware} verifies user and
 * service JWTs (jose, RFC 8725 defaults), answers with RFC 6750 errors, and checks roles (with
 * inheritance), permissions, workspaces and email verification, for Express (`req.auth` typed),
 * Fastify ({@link createFastifyAuth}) or any framework ({@link UnifiedAuthMiddleware.authenticate}).
 *
 * @example
 * ```ts
 * import { getDefaultAuthMiddleware } from '@ux-flow/common/auth';
 * const auth = getDefaultAuthMiddleware({ userService: userManager });
 * app.use('/api/protected', auth.requireAuth());
 * app.use('/api/admin', auth.requireRole('admin'));
 * ```
 *
 * @module
 */
import './express-augmentation.js';

export { UnifiedAuthMiddleware } from './unified-auth-middleware.js';
export type {
  BruteForceOptions,
  ClaimNames,
  IssueServiceTokenOptions,
  IssueUserTokenOptions,
  ServiceTokenOptions,
  SigningKeyInput,
  TokenLocations,
  UnifiedAuthMiddlewareOptions,
  UserTokenOptions,
} from './unified-auth-middleware.js';
export { getDefaultAuthMiddleware, resetDefaultAuthMiddleware, resolveAuthOptions } from './default-auth-middleware.js';
export type { AuthEnvSource, DefaultAuthMiddlewareOptions } from './default-auth-middleware.js';
export { AUTH_ENV } from './auth-env.js';
export type { AuthEnvName } from './auth-env.js';
export { AuthError } from './auth-error.js';
export type { AuthErrorOptions, AuthErrorResponse, AuthErrorType, AuthFailureReason } from './auth-error.js';
export type {
  AuthClaims,
  AuthContext,
  AuthMiddlewareHandler,
  AuthRequest,
  AuthResponse,
  AuthUser,
  UserService,
  WorkspaceMembership,
} from './auth-context.js';
export type { AuthRequirement, WorkspaceAccessOptions } from './auth-requirement.js';
export { DEFAULT_ROLES, permissionMatches, RoleHierarchy } from './role-hierarchy.js';
export type { RoleDefinition, RoleDefinitions } from './role-hierarchy.js';
export { TokenVerifier } from './token-verifier.js';
export type {
  JwksOptions,
  JwtAlgorithm,
  KeyWithId,
  PublicKeyEntry,
  SecretEntry,
  SecretInput,
  TokenKindOptions,
  TokenVerifierOptions,
  VerificationKeyInput,
} from './token-verifier.js';
export { VerifiedTokenCache } from './verified-token-cache.js';
export type { VerifiedTokenCacheOptions } from './verified-token-cache.js';
export { createFastifyAuth } from './fastify-auth.js';
export type { FastifyAuth, FastifyAuthHook, FastifyReplyLike } from './fastify-auth.js';
