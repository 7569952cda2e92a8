import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useLive } from '../api/live';
import { useLogout } from '../api/logout';
import { useViewer } from '../api/viewer';
import { formatPrice } from '../lib/money';
import { Link, useRouter } from '../router';
import { clearHeadingFocus, focusHeadingOnNextPage } from './ui';

const NAV = [
  { to: '/', label: 'Overview' },
  { to: '/purchases', label: 'Purchases' },
  { to: '/rules', label: 'Rules' },
  { to: '/integrations', label: 'Integrations' },
  { to: '/team', label: 'Team & access' },
  { to: '/compliance', label: 'Compliance & reports' },
  { to: '/account', label: 'Account' },
];

export function LivePrice() {
  const { price, ticking } = useLive();
  return (
    <p className="price-chip" aria-label={price ? `Bitcoin price ${formatPrice(price.price)} Australian dollars` : 'Bitcoin price loading'}>
      <span className={`dot${ticking ? ' dot-live' : ''}`} aria-hidden="true" />
      <span className="price-chip-label">BTC/AUD</span>
      <span className="num" data-testid="live-price">
        {price ? formatPrice(price.price) : '…'}
      </span>
    </p>
  );
}

/** The signed-in frame: skip link, header with tenant and live price, navigation (a menu on phones), main. */
export function Shell({ children }: { children: ReactNode }) {
  const { me, role } = useViewer();
  const logout = useLogout();
  const { path } = useRouter();
  const [open, setOpen] = useState(false);
  const first = useRef(true);
  // Move focus to the new page's heading after navigation (not on first load), and close the menu.
  useEffect(() => {
    setOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    // A screen already on the page (same component) gets focus now; a lazily loaded one when its heading mounts.
    focusHeadingOnNextPage();
    const t = setTimeout(() => {
      const h = document.getElementById('page-title');
      if (!h || h.getClientRects().length === 0) return;
      clearHeadingFocus();
      if (document.activeElement !== h) h.focus();
    }, 0);
    return () => clearTimeout(t);
  }, [path]);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Liquid ABT overview">
          <img src="/icon.svg" alt="" width="28" height="28" />
          <span>Liquid ABT</span>
        </Link>
        <p className="tenant-name" title={me.tenant.name}>
          {me.tenant.name} <span className="role-badge">{role.toLowerCase()}</span>
        </p>
        <LivePrice />
        <button className="menu-button" aria-expanded={open} aria-controls="primary-nav" onClick={() => setOpen((o) => !o)}>
          {open ? 'Close' : 'Menu'}
        </button>
      </header>
      <div className="frame">
        <nav id="primary-nav" className={`sidenav${open ? ' open' : ''}`} aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to}>{n.label}</Link>
              </li>
            ))}
          </ul>
          <button type="button" className="btn btn-ghost nav-logout" onClick={() => void logout()}>
            Log out
          </button>
        </nav>
        <main id="main" className="page" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
