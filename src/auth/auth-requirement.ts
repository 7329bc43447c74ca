/** Where `requireWorkspaceAccess` looks for the workspace id, in this order. */
export interface WorkspaceAccessOptions {
  /** Route parameter name. Default `'workspaceId'`; `false` to skip. */
  param?: string | false;
  /** Header name (lower case). Default `'x-workspace-id'`; `false` to skip. */
  header?: string | false;
  /** Top-level body field. Default `'workspaceId'`; `false` to skip. */
  body?: string | false;
  /** Workspace roles of which the member must hold one (hierarchical). Default: any member. */
  roles?: readonly string[];
  /** Global roles that pass without membership. Default `['super_admin']`; `[]` for none. */
  bypassRoles?: readonly string[];
}

/**
 * What a guard checks after authentication; the framework-neutral form behind every middleware
 * factory, accepted by `UnifiedAuthMiddleware.protect()` and the Fastify adapter.
 *
 * @example
 * ```ts
 * await auth.protect(request, { type: 'role', role: 'admin' });
 * ```
 */
export type AuthRequirement =
  | { type: 'auth'; optional?: boolean }
  | { type: 'role'; role: string }
  | { type: 'permissions'; mode: 'all' | 'any'; permissions: readonly string[] }
  | { type: 'workspace'; options?: WorkspaceAccessOptions }
  | { type: 'email-verified' }
  | { type: 'service'; services: readonly string[] }
  | { type: 'user-or-service'; services: readonly string[] };
