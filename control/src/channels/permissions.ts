/**
 * Channel roles and permissions. A member's permissions are a bit set stored with the
 * membership; a role gives its default set, and channel admins may change a member's set
 * within what their own role allows (channels/access.ts).
 */
export const PERMISSIONS = ['speak', 'listen', 'moderate', 'manage'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ['owner', 'admin', 'member'] as const;
export type ChannelRole = (typeof ROLES)[number];

const BIT: Record<Permission, number> = { speak: 1, listen: 2, moderate: 4, manage: 8 };

export const ROLE_DEFAULT_PERMISSIONS: Record<ChannelRole, readonly Permission[]> = {
  owner: ['speak', 'listen', 'moderate', 'manage'],
  admin: ['speak', 'listen', 'moderate', 'manage'],
  member: ['speak', 'listen'],
};

export function permissionBits(permissions: readonly Permission[]): number {
  let bits = 0;
  for (const p of permissions) bits |= BIT[p];
  return bits;
}

export function permissionsFromBits(bits: number): Permission[] {
  return PERMISSIONS.filter((p) => (bits & BIT[p]) !== 0);
}

export function hasPermission(bits: number, permission: Permission): boolean {
  return (bits & BIT[permission]) !== 0;
}
