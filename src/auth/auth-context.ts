/**
 * Verified JWT claims: the registered claims typed, any other claim as `unknown` (read them with
 * a check, never with a cast).
 */
export interface AuthClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** A workspace the principal belongs to, with its roles there. */
export interface WorkspaceMembership {
  /** Workspace id. */
  id: string;
  /** Roles inside this workspace (hierarchical, like global roles). Default none. */
  roles?: readonly string[];
}

/** What a {@link UserService} returns for a user id. Every field is optional. */
export interface AuthUser {
  /** The user id (the token's `sub`). */
  id: string;
  /** Global roles; replace the token's `roles` claim when given. */
  roles?: readonly string[];
  /** Direct permissions; replace the token's `permissions` claim when given. */
  permissions?: readonly string[];
  /** Workspace memberships (ids or `{ id, roles }`); replace the token's claim when given. */
  workspaces?: readonly (string | WorkspaceMembership)[];
  /** Whether the email address was verified; replaces the `email_verified` claim when given. */
  emailVerified?: boolean;
  /** A disabled user's tokens are refused (401 `invalid_token`, code `user_disabled`). */
  disabled?: boolean;
  /** Anything else the service keeps on its users. */
  [field: string]: unknown;
}

/**
 * Loads users by id; the source of truth for roles, permissions, workspaces and status when
 * given. Called on every authenticated request (cache inside it if loading is expensive).
 *
 * @example
 * ```ts
 * const userService: UserService = { getUserById: (id) => db.users.findOne({ id }) };
 * ```
 */
export interface UserService {
  /** The user, or `null`/`undefined` when unknown (the token is then refused). */
  getUserById(id: string): Promise<AuthUser | null | undefined> | AuthUser | null | undefined;
}

/**
 * The authenticated principal, set as `req.auth` by the middleware (typed for Express by the
 * package's module augmentation, for Fastify by the adapter's).
 *
 * @example
 * ```ts
 * app.get('/me', auth.requireAuth(), (req, res) => {
 *   res.json({ id: req.auth?.subject, roles: req.auth?.roles });
 * });
 * ```
 */
export interface AuthContext {
  /** A user token or a service-to-service token. */
  kind: 'user' | 'service';
  /** The `sub` claim: a user id, or the calling service's name. */
  subject: string;
  /** Every verified claim. */
  claims: Readonly<AuthClaims>;
  /** The user loaded through `userService`, when one is configured. */
  user?: AuthUser;
  /** Global roles as granted (not expanded through the hierarchy). Empty for services. */
  roles: readonly string[];
  /** Direct permissions plus those granted by roles; for services, the token's scopes. */
  permissions: readonly string[];
  /** Workspace memberships. Empty for services. */
  workspaces: readonly WorkspaceMembership[];
  /** Whether the user's email is verified (`email_verified` claim or `userService`). */
  emailVerified: boolean;
  /** Set by `requireWorkspaceAccess` once access to that workspace is granted. */
  workspaceId?: string;
}

/**
 * The part of an HTTP request the auth core reads. Express, Fastify and `node:http` requests all
 * fit; no framework types are needed.
 */
export interface AuthRequest {
  /** Lower-case header names, as Node gives them. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Client IP as the framework resolved it (trust-proxy aware); the brute-force key. */
  ip?: string | undefined;
  /** Fallback for the client IP. */
  socket?: { remoteAddress?: string | undefined } | undefined;
  /** Route parameters (Express, Fastify). */
  params?: unknown;
  /** Parsed body, when a body parser ran. */
  body?: unknown;
  /** Set by the middleware. */
  auth?: AuthContext | undefined;
}

/** The part of an HTTP response the Express/`node:http` middleware writes to. */
export interface AuthResponse {
  statusCode: number;
  readonly headersSent?: boolean;
  /** Sets a response header (`WWW-Authenticate`, `Retry-After`, `Content-Type`). */
  setHeader(name: string, value: string): unknown;
  /** Ends the response with an optional body. */
  end(chunk?: string): unknown;
}

/** A connect-style middleware (Express 4/5, `node:http` with a `next`). */
export type AuthMiddlewareHandler = (req: AuthRequest, res: AuthResponse, next: (error?: unknown) => void) => void;
