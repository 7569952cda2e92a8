import { Suspense, lazy, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Provider, useQuery } from 'urql';
import { createApiClient } from './api/client';
import { ViewerQuery } from './api/operations';
import { getSession, onSession, type Session } from './api/session';
import { ViewerProvider } from './api/viewer';
import { LiveProvider } from './api/live';
import { ErrorBanner, Loading } from './components/ui';
import { Shell } from './components/shell';
import { RouterProvider, match, useRouter } from './router';
import { LoginScreen, SignUpScreen, AcceptInviteScreen } from './screens/auth';
import { OverviewScreen } from './screens/overview';
import { PurchasesScreen } from './screens/purchases';

const named = <K extends string, M extends Record<K, () => ReactNode>>(load: () => Promise<M>, key: K) =>
  lazy(() => load().then((m) => ({ default: m[key] as () => ReactNode })));

const PurchaseScreen = named(() => import('./screens/purchase'), 'PurchaseScreen');
const RulesScreen = named(() => import('./screens/rules'), 'RulesScreen');
const RuleEditScreen = named(() => import('./screens/rule-edit'), 'RuleEditScreen');
const IntegrationsScreen = named(() => import('./screens/integrations'), 'IntegrationsScreen');
const TeamScreen = named(() => import('./screens/team'), 'TeamScreen');
const ComplianceScreen = named(() => import('./screens/compliance'), 'ComplianceScreen');
const AccountScreen = named(() => import('./screens/account'), 'AccountScreen');

function useSession(): Session | null {
  const [s, set] = useState(getSession);
  useEffect(() => onSession(set), []);
  return s;
}

/** Screens of the signed-in dashboard, by path. */
function Routes() {
  const { path } = useRouter();
  let screen: ReactNode;
  let params: Record<string, string> | null;
  if (path === '/') screen = <OverviewScreen />;
  else if (path === '/purchases') screen = <PurchasesScreen />;
  else if ((params = match('/purchases/:id', path))) screen = <PurchaseScreen key={params.id} />;
  else if (path === '/rules') screen = <RulesScreen />;
  else if (path === '/rules/new' || match('/rules/:id', path)) screen = <RuleEditScreen key={path} />;
  else if (path === '/integrations') screen = <IntegrationsScreen />;
  else if (path === '/team') screen = <TeamScreen />;
  else if (path === '/compliance') screen = <ComplianceScreen />;
  else if (path === '/account') screen = <AccountScreen />;
  else screen = <NotFound />;
  // Keyed by path: the previous screen unmounts while the next one loads (React would keep it, hidden).
  return (
    <Suspense key={path} fallback={<Loading />}>
      {screen}
    </Suspense>
  );
}

function NotFound() {
  return (
    <div className="page">
      <h1 id="page-title" tabIndex={-1}>
        Page not found
      </h1>
      <p>
        That page does not exist. <a href="/">Go to the overview</a>.
      </p>
    </div>
  );
}

function SignedIn() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: ViewerQuery });
  if (!data) {
    return (
      <main className="center-page" id="main">
        {error && !fetching ? <ErrorBanner error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} /> : <Loading label="Opening your dashboard…" />}
      </main>
    );
  }
  return (
    <ViewerProvider data={data} refetch={() => refetch({ requestPolicy: 'network-only' })}>
      <LiveProvider>
        <Shell>
          <Routes />
        </Shell>
      </LiveProvider>
    </ViewerProvider>
  );
}

function SignedOut() {
  const { path, navigate } = useRouter();
  if (path === '/signup') return <SignUpScreen />;
  if (path === '/invite') return <AcceptInviteScreen />;
  if (path !== '/login') {
    // Come back to the page asked for once signed in.
    queueMicrotask(() => navigate(`/login${path === '/' ? '' : `?next=${encodeURIComponent(path)}`}`, { replace: true }));
    return null;
  }
  return <LoginScreen />;
}

function Root() {
  const session = useSession();
  const { path, search, navigate } = useRouter();
  // One API client (and WebSocket) per signed-in user and tenant: switching tenant reconnects.
  const key = session ? `${session.userId}:${session.tenantId}` : '';
  const api = useMemo(() => (key ? createApiClient() : null), [key]);
  useEffect(() => () => api?.dispose(), [api]);
  useEffect(() => {
    if (session && (path === '/login' || path === '/signup')) navigate(search.get('next') ?? '/', { replace: true });
  }, [session, path, search, navigate]);
  if (!api || path === '/invite') return <SignedOut />;
  return (
    <Provider value={api.client} key={key}>
      <SignedIn />
    </Provider>
  );
}

export function App() {
  return (
    <RouterProvider>
      <Root />
    </RouterProvider>
  );
}
