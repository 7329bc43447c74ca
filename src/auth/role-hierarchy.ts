import { ValidationError } from '../core/index.js';

/** One role: the roles it includes (so it passes their checks) and the permissions it grants. */
export interface RoleDefinition {
  /** Roles this role includes, e.g. `admin` includes `user`. Default none. */
  inherits?: readonly string[];
  /** Permissions granted by this role (and to every role that inherits it). Default none. */
  permissions?: readonly string[];
}

/** Role name → definition. */
export type RoleDefinitions = Readonly<Record<string, RoleDefinition>>;

/** The default hierarchy: `user` ⊂ `admin` ⊂ `super_admin`, no permissions attached. */
export const DEFAULT_ROLES: RoleDefinitions = Object.freeze({
  user: {},
  admin: { inherits: ['user'] },
  super_admin: { inherits: ['admin'] },
});

/**
 * Role inheritance (like accesscontrol's `extend`), resolved once at construction: `satisfies`
 * is a set lookup, `permissionsOf` a cached union. Cycles and unknown parents are refused.
 * Permissions match exactly, or through a trailing wildcard (`flows:*`, `*`).
 *
 * @example
 * ```ts
 * const roles = new RoleHierarchy({ user: { permissions: ['flows:read'] }, admin: { inherits: ['user'] } });
 * roles.satisfies(['admin'], 'user'); // true
 * roles.permissionsOf(['admin']);     // ['flows:read']
 * ```
 */
export class RoleHierarchy {
  /** role → every role it includes, itself included. */
  private readonly closure = new Map<string, ReadonlySet<string>>();
  private readonly granted = new Map<string, readonly string[]>();

  constructor(definitions: RoleDefinitions = DEFAULT_ROLES) {
    for (const [role, definition] of Object.entries(definitions)) {
      for (const parent of definition.inherits ?? []) {
        if (!(parent in definitions)) throw new ValidationError(`roles.${role}.inherits`, `names unknown role "${parent}"`);
      }
    }
    const resolve = (role: string, path: readonly string[]): ReadonlySet<string> => {
      const known = this.closure.get(role);
      if (known !== undefined) return known;
      if (path.includes(role)) throw new ValidationError(`roles.${role}.inherits`, `forms a cycle (${[...path, role].join(' → ')})`);
      const set = new Set([role]);
      for (const parent of definitions[role]?.inherits ?? []) for (const r of resolve(parent, [...path, role])) set.add(r);
      this.closure.set(role, set);
      return set;
    };
    for (const role of Object.keys(definitions)) {
      const included = resolve(role, []);
      const permissions = new Set<string>();
      for (const r of included) for (const p of definitions[r]?.permissions ?? []) permissions.add(p);
      this.granted.set(role, [...permissions]);
    }
  }

  /** Whether the role is defined. */
  has(role: string): boolean {
    return this.closure.has(role);
  }

  /** Whether any of `held` is `required` or includes it. Unknown held roles match only themselves. */
  satisfies(held: readonly string[], required: string): boolean {
    for (const role of held) {
      if (role === required || this.closure.get(role)?.has(required) === true) return true;
    }
    return false;
  }

  /** The permissions the roles grant, inherited ones included. */
  permissionsOf(held: readonly string[]): string[] {
    if (held.length === 1) return [...(this.granted.get(held[0] ?? '') ?? [])];
    const out = new Set<string>();
    for (const role of held) for (const p of this.granted.get(role) ?? []) out.add(p);
    return [...out];
  }
}

/**
 * Whether `granted` covers `required`: equal, `*`, or a `prefix:*` wildcard whose prefix starts
 * `required` at a segment boundary.
 *
 * @example
 * ```ts
 * permissionMatches('flows:*', 'flows:write'); // true
 * ```
 */
export function permissionMatches(granted: string, required: string): boolean {
  if (granted === required || granted === '*') return true;
  if (!granted.endsWith(':*')) return false;
  const prefix = granted.slice(0, -1);
  return required.startsWith(prefix) && required.length > prefix.length;
}
