import { describe, expect, it } from 'vitest';
import { permissionMatches, RoleHierarchy } from '../../../src/auth/index.js';

describe('RoleHierarchy', () => {
  it('lets higher roles pass lower checks by default (user ⊂ admin ⊂ super_admin)', () => {
    const roles = new RoleHierarchy();
    expect(roles.satisfies(['super_admin'], 'user')).toBe(true);
    expect(roles.satisfies(['admin'], 'user')).toBe(true);
    expect(roles.satisfies(['admin'], 'super_admin')).toBe(false);
    expect(roles.satisfies([], 'user')).toBe(false);
    expect(roles.satisfies(['auditor'], 'user')).toBe(false);
  });

  it('collects inherited permissions through several levels', () => {
    const roles = new RoleHierarchy({
      viewer: { permissions: ['flows:read'] },
      editor: { inherits: ['viewer'], permissions: ['flows:write'] },
      owner: { inherits: ['editor'], permissions: ['members:*'] },
    });
    expect(roles.permissionsOf(['owner']).sort()).toEqual(['flows:read', 'flows:write', 'members:*']);
    expect(roles.permissionsOf(['viewer', 'unknown'])).toEqual(['flows:read']);
  });

  it('refuses an unknown parent role', () => {
    expect(() => new RoleHierarchy({ admin: { inherits: ['ghost'] } })).toThrow(/"roles.admin.inherits" names unknown role "ghost"/);
  });
});

describe('permissionMatches', () => {
  it('matches exact, global and segment wildcards only', () => {
    expect(permissionMatches('flows:read', 'flows:read')).toBe(true);
    expect(permissionMatches('*', 'anything')).toBe(true);
    expect(permissionMatches('flows:*', 'flows:delete')).toBe(true);
    expect(permissionMatches('flows:*', 'flowsx:delete')).toBe(false);
    expect(permissionMatches('flows:*', 'flows:')).toBe(false);
    expect(permissionMatches('flows:read', 'flows:write')).toBe(false);
  });
});
