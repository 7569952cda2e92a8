import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQuery, useSubscription } from 'urql';
import type { DashboardLivePriceSubscription, PurchaseRowFragment } from '../gql/graphql';
import { LivePriceSubscription, PriceQuery, PurchaseUpdatesSubscription } from './operations';

type Price = DashboardLivePriceSubscription['btcPrice'];

/** One WebSocket for the whole dashboard: the ticking price and every purchase status change. */
type Live = {
  /** The latest tick, or the last recorded price before the first one. */
  price: Price | null;
  /** Whether `price` came from the live stream. */
  ticking: boolean;
  /** The newest state of each purchase seen on the stream since the page opened. */
  purchases: ReadonlyMap<string, PurchaseRowFragment>;
  /** Bumps on every purchase event, so screens can refetch what they aggregate (holdings). */
  purchaseVersion: number;
  connected: boolean;
};

const LiveContext = createContext<Live>({ price: null, ticking: false, purchases: new Map(), purchaseVersion: 0, connected: false });

export function LiveProvider({ children }: { children: ReactNode }) {
  const [priceResult] = useSubscription({ query: LivePriceSubscription });
  // The last recorded price until the first tick arrives (ticks come every few seconds).
  const [initialPrice] = useQuery({ query: PriceQuery });
  const seen = useRef(new Map<string, PurchaseRowFragment>());
  const [version, setVersion] = useState(0);
  const [purchaseResult] = useSubscription({ query: PurchaseUpdatesSubscription });
  const event = purchaseResult.data?.purchaseUpdated;
  useEffect(() => {
    const p = event?.purchase;
    if (!p) return;
    const prev = seen.current.get(p.id);
    if (!prev || prev.updatedAt <= p.updatedAt) seen.current.set(p.id, p);
    setVersion((v) => v + 1);
  }, [event]);
  const price = priceResult.data?.btcPrice ?? initialPrice.data?.btcPrice ?? null;
  const value = useMemo<Live>(
    () => ({ price, ticking: !!priceResult.data, purchases: seen.current, purchaseVersion: version, connected: !!priceResult.data && !priceResult.error }),
    [price, version, priceResult.data, priceResult.error],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export const useLive = (): Live => useContext(LiveContext);

/** A list of purchases with the live stream's newer states applied, and new ones (matching `accept`) on top. */
export function useLivePurchases(list: readonly PurchaseRowFragment[] | undefined, accept: (p: PurchaseRowFragment) => boolean = () => true): PurchaseRowFragment[] {
  const { purchases, purchaseVersion } = useLive();
  return useMemo(() => {
    const base = list ?? [];
    const ids = new Set(base.map((p) => p.id));
    const merged = base.map((p) => {
      const live = purchases.get(p.id);
      return live && live.updatedAt >= p.updatedAt ? { ...p, ...live } : p;
    });
    const fresh = [...purchases.values()].filter((p) => !ids.has(p.id) && accept(p)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return [...fresh, ...merged].filter(accept);
    // purchaseVersion is what changes when the (mutable) map does.
  }, [list, purchaseVersion, purchases]);
}
