/** The signed-in session, kept in localStorage so a reload (or the installed app) stays signed in. */
export type Session = {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  userId: string;
  email: string;
  tenantId: string;
  tenantName: string;
};

const KEY = 'abt.session';
type Listener = (s: Session | null) => void;
const listeners = new Set<Listener>();

function read(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

let current: Session | null = read();

export const getSession = (): Session | null => current;

export function setSession(s: Session | null): void {
  current = s;
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
  for (const l of listeners) l(s);
}

export function onSession(l: Listener): () => void {
  listeners.add(l);
  return () => void listeners.delete(l);
}

// Another tab logging in or out changes this one too.
window.addEventListener('storage', (e) => {
  if (e.key !== KEY) return;
  current = read();
  for (const l of listeners) l(current);
});

type AuthPayloadLike = {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  user: { id: string; email: string };
  tenant: { id: string; name: string };
};

export const sessionFrom = (p: AuthPayloadLike): Session => ({
  accessToken: p.accessToken,
  accessTokenExpiresAt: p.accessTokenExpiresAt,
  refreshToken: p.refreshToken,
  userId: p.user.id,
  email: p.user.email,
  tenantId: p.tenant.id,
  tenantName: p.tenant.name,
});
