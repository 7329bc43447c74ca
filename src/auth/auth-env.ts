import { env } from '../core/index.js';

/**
 * Environment variables read by `getDefaultAuthMiddleware` (explicit options win). Lists
 * (issuers, audiences, algorithms) are comma-separated. To rotate an HMAC secret, put the new one
 * in `AUTH_JWT_SECRET` / `AUTH_SERVICE_SECRET` (it signs) and the old one in
 * `AUTH_JWT_PREVIOUS_SECRET` / `AUTH_SERVICE_PREVIOUS_SECRET` (still accepted) until tokens
 * signed with it have expired.
 *
 * @example
 * ```sh
 * AUTH_USER_ISSUER=https://id.example.com/ AUTH_USER_AUDIENCE=flow-api \
 * AUTH_JWKS_URI=https://id.example.com/.well-known/jwks.json node server.js
 * ```
 */
export const AUTH_ENV = {
  AUTH_USER_ISSUER: env.string('Allowed issuers of user tokens (comma-separated)'),
  AUTH_USER_AUDIENCE: env.string('Accepted audiences of user tokens (comma-separated)'),
  AUTH_USER_ALGORITHMS: env.string('User token algorithms (comma-separated); default RS256, or HS256 with a secret'),
  AUTH_JWT_SECRET: env.string('HMAC secret for user tokens (at least 32 bytes)', { secret: true }),
  AUTH_JWT_PREVIOUS_SECRET: env.string('Previous HMAC secret for user tokens, still accepted during rotation (verification only)', { secret: true }),
  AUTH_JWKS_URI: env.url('JWKS URL for user tokens', { protocols: ['https:', 'http:'] }),
  AUTH_USER_PUBLIC_KEY: env.string('PEM public key for user tokens'),
  AUTH_SERVICE_ISSUER: env.string('Allowed issuers of service tokens (comma-separated)'),
  AUTH_SERVICE_AUDIENCE: env.string('Accepted audiences of service tokens: this service (comma-separated)'),
  AUTH_SERVICE_ALGORITHMS: env.string('Service token algorithms (comma-separated); default HS256 with a secret, else EdDSA'),
  AUTH_SERVICE_SECRET: env.string('HMAC secret shared by services (at least 32 bytes)', { secret: true }),
  AUTH_SERVICE_PREVIOUS_SECRET: env.string('Previous HMAC secret of services, still accepted during rotation (verification only)', { secret: true }),
  AUTH_SERVICE_JWKS_URI: env.url('JWKS URL for service tokens', { protocols: ['https:', 'http:'] }),
  AUTH_SERVICE_PUBLIC_KEY: env.string('PEM public key for service tokens'),
  AUTH_SERVICE_PRIVATE_KEY: env.string('PEM private key this service signs its tokens with', { secret: true }),
  AUTH_SERVICE_NAME: env.string('This service name: the sub of the service tokens it issues'),
  AUTH_SERVICE_MAX_TOKEN_AGE_SEC: env.integer('Oldest accepted service token, from iat', { default: 300, min: 1, max: 86_400 }),
  AUTH_CLOCK_TOLERANCE_SEC: env.integer('Leeway for exp/nbf/iat in seconds', { default: 5, min: 0, max: 300 }),
  AUTH_REALM: env.string('realm in WWW-Authenticate', { default: 'api' }),
  AUTH_COOKIE_NAME: env.string('Also read the token from this cookie (opt-in)'),
  AUTH_MAX_FAILURES_PER_MINUTE: env.integer('Failed authentications per client IP and minute', { default: 20, min: 1 }),
} as const;

/** A variable name of {@link AUTH_ENV}. */
export type AuthEnvName = keyof typeof AUTH_ENV;
