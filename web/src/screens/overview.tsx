import { Suspense, lazy, useEffect, useMemo, useState } from 'react';
import { useQuery } from 'urql';
import { useLive, useLivePurchases } from '../api/live';
import { HoldingsHistoryQuery, OverviewQuery } from '../api/operations';
import { useViewer } from '../api/viewer';
import type { CandleInterval } from '../gql/graphql';
import { PurchaseTable } from '../components/purchase-table';
import { Aud, Card, Empty, ErrorBanner, Gain, Loading, PageHeader, Sats } from '../components/ui';
import { formatBtc, formatPrice, sumCents, valueOfSats } from '../lib/money';
import { relative } from '../lib/time';
import { Link } from '../router';

const HoldingsChart = lazy(() => import('../components/holdings-chart').then((m) => ({ default: m.HoldingsChart })));

type Range = { id: string; label: string; interval: CandleInterval; ms: number };
const RANGES: readonly [Range, ...Range[]] = [
  { id: '12h', label: '12 hours', interval: 'ONE_MINUTE', ms: 12 * 3600_000 },
  { id: '30d', label: '30 days', interval: 'ONE_HOUR', ms: 30 * 86_400_000 },
  { id: '1y', label: '1 year', interval: 'ONE_DAY', ms: 365 * 86_400_000 },
];

export function OverviewScreen() {
  const { me } = useViewer();
  const live = useLive();
  const [{ data, error, fetching }, refetch] = useQuery({ query: OverviewQuery });
  // Holdings are an aggregate: refetch them when a purchase changes on the live stream.
  useEffect(() => {
    if (live.purchaseVersion > 0) refetch({ requestPolicy: 'network-only' });
  }, [live.purchaseVersion, refetch]);
  const recent = useLivePurchases(data?.purchases).slice(0, 8);
  const latest = recent[0];
  const price = live.price ?? data?.btcPrice ?? null;

  const totals = useMemo(() => {
    const h = data?.holdings ?? [];
    const sats = h.reduce((a, x) => a + BigInt(x.sats), 0n);
    const cost = sumCents(h.map((x) => x.costBaseAudCents));
    const fees = sumCents(h.map((x) => x.feesAudCents));
    const value = price ? valueOfSats(sats, price.price) : null;
    return { sats, cost, fees, value, gain: value === null ? null : value - cost, count: h.reduce((a, x) => a + x.purchases, 0) };
  }, [data?.holdings, price]);

  return (
    <div>
      <PageHeader title="Overview" subtitle={`${me.tenant.name}'s bitcoin treasury`} />
      <ErrorBanner error={data ? null : error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      {!data && fetching ? <Loading /> : null}
      {data ? (
        <>
          <div className="stats">
            <Card className="stat">
              <p className="stat-label">BTC/AUD price</p>
              <p className="stat-value" data-testid="overview-price" aria-live="off">
                {price ? formatPrice(price.price) : '—'}
              </p>
              <p className="stat-foot">
                {price ? (
                  <>
                    <span className={`dot${live.ticking ? ' dot-live' : ''}`} aria-hidden="true" /> {live.ticking ? 'live' : 'last recorded'} · {price.source === 'SIMULATED' ? 'simulated feed' : price.source}
                  </>
                ) : (
                  'no price yet'
                )}
              </p>
            </Card>
            <Card className="stat">
              <p className="stat-label">Holdings</p>
              <p className="stat-value" data-testid="holdings-sats">
                <Sats sats={totals.sats} />
              </p>
              <p className="stat-foot">{formatBtc(totals.sats)}</p>
            </Card>
            <Card className="stat">
              <p className="stat-label">Value</p>
              <p className="stat-value">
                <Aud cents={totals.value} />
              </p>
              <p className="stat-foot">at the live price</p>
            </Card>
            <Card className="stat">
              <p className="stat-label">Cost base</p>
              <p className="stat-value">
                <Aud cents={totals.cost} />
              </p>
              <p className="stat-foot">
                incl. <Aud cents={totals.fees} /> fees · {totals.count} purchases
              </p>
            </Card>
            <Card className="stat">
              <p className="stat-label">Unrealised gain</p>
              <p className="stat-value">
                <Gain cents={totals.gain} />
              </p>
              <p className="stat-foot">value minus cost base</p>
            </Card>
          </div>
          <ValueChart holdingsSats={totals.sats} holdingsCost={totals.cost} version={live.purchaseVersion} livePrice={price?.price ?? null} />
          <Card title="Recent purchases" actions={<Link to="/purchases">All purchases</Link>}>
            {latest === undefined ? (
              <Empty title="No purchases yet">
                <p>
                  Purchases appear here, live, as your <Link to="/rules">rules</Link> turn revenue from your <Link to="/integrations">payment integrations</Link> into bitcoin.
                </p>
              </Empty>
            ) : (
              <>
                <PurchaseTable purchases={recent} caption="Recent purchases" />
                <p className="muted small" aria-live="polite">
                  Updated live · last change {relative(latest.updatedAt)}
                </p>
              </>
            )}
          </Card>
        </>
      ) : null}
    </div>
  );
}

function ValueChart({ holdingsSats, holdingsCost, version, livePrice }: { holdingsSats: bigint; holdingsCost: bigint; version: number; livePrice: string | null }) {
  const [range, setRange] = useState(RANGES[0]);
  // The range's start is fixed when chosen, so the query (and its cache key) is stable.
  const from = useMemo(() => new Date(Math.floor((Date.now() - range.ms) / 60_000) * 60_000).toISOString(), [range]);
  const [{ data, error, fetching }, refetch] = useQuery({ query: HoldingsHistoryQuery, variables: { interval: range.interval, from } });
  useEffect(() => {
    if (version > 0) refetch({ requestPolicy: 'network-only' });
  }, [version, refetch]);
  return (
    <Card
      title="Holdings value against cost"
      actions={
        <div className="segmented" role="group" aria-label="Chart range">
          {RANGES.map((r) => (
            <button key={r.id} type="button" aria-pressed={r.id === range.id} onClick={() => setRange(r)}>
              {r.label}
            </button>
          ))}
        </div>
      }
    >
      <ErrorBanner error={data ? null : error} />
      {!data && fetching ? <Loading label="Loading price history…" /> : null}
      {data ? (
        data.priceHistory.length === 0 ? (
          <Empty title="No price history in this range yet">The price feed records candles as it runs; the chart fills in as it does.</Empty>
        ) : (
          <Suspense fallback={<Loading label="Drawing the chart…" />}>
            <HoldingsChart candles={data.priceHistory} purchases={data.purchases} holdingsSats={holdingsSats} holdingsCost={holdingsCost} livePrice={livePrice} />
          </Suspense>
        )
      ) : null}
    </Card>
  );
}
