import { createContext, useContext, type ReactNode } from 'react';
import type { DashboardViewerQuery, Role } from '../gql/graphql';

/**
 * What each role may do, mirroring the API's permission matrix (docs/access.md). Screens hide what
 * the role cannot do; the API still refuses it (the browser test checks both).
 */
const ALLOWED: Record<string, readonly Role[]> = {
  'rule:write': ['OWNER', 'ADMIN'],
  'integration:write': ['OWNER', 'ADMIN'],
  'purchase:request': ['OWNER', 'ADMIN', 'USER'],
  'user:manage': ['OWNER', 'ADMIN'],
  'invitation:read': ['OWNER', 'ADMIN'],
  'apikey:read': ['OWNER', 'ADMIN'],
  'apikey:manage': ['OWNER', 'ADMIN'],
  'owner:manage': ['OWNER'],
  'tenant:security': ['OWNER'],
};
export type Action = keyof typeof ALLOWED;

export const roleCan = (role: Role, action: Action): boolean => ALLOWED[action]?.includes(role) ?? false;

export type Viewer = {
  me: DashboardViewerQuery['me'];
  tenants: DashboardViewerQuery['myTenants'];
  role: Role;
  tz: string;
  can(action: Action): boolean;
  refetch(): void;
};

const ViewerContext = createContext<Viewer | null>(null);

export function ViewerProvider({ data, refetch, children }: { data: DashboardViewerQuery; refetch(): void; children: ReactNode }) {
  const role = data.me.role;
  const viewer: Viewer = { me: data.me, tenants: data.myTenants, role, tz: data.me.tenant.timezone, can: (a) => roleCan(role, a), refetch };
  return <ViewerContext.Provider value={viewer}>{children}</ViewerContext.Provider>;
}

export function useViewer(): Viewer {
  const v = useContext(ViewerContext);
  if (!v) throw new Error('useViewer outside ViewerProvider');
  return v;
}
