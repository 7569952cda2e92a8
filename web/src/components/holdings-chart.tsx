import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { decimalToCents, formatAud, valueOfSats } from '../lib/money';

type Candle = { bucketStart: string; close: string };
type PurchasePoint = { satoshis: string; costAudCents: string; updatedAt: string; status: string };

export type ChartSeries = { t: number[]; value: bigint[]; cost: bigint[] };

/**
 * Value and cost of the holdings at the end of each candle, computed exactly (bigint cents): the
 * holdings now, minus every purchase filled after that moment, valued at the candle's close.
 */
export function holdingsSeries(candles: readonly Candle[], purchases: readonly PurchasePoint[], sats: bigint, cost: bigint, livePrice: string | null, now = Date.now()): ChartSeries {
  const bought = purchases.filter((p) => BigInt(p.satoshis) > 0n).map((p) => ({ at: Date.parse(p.updatedAt), sats: BigInt(p.satoshis), cost: BigInt(p.costAudCents) }));
  const at = (end: number): { sats: bigint; cost: bigint } =>
    bought.reduce((acc, p) => (p.at > end ? { sats: acc.sats - p.sats, cost: acc.cost - p.cost } : acc), { sats, cost });
  const out: ChartSeries = { t: [], value: [], cost: [] };
  candles.forEach((c, i) => {
    const next = candles[i + 1];
    const end = next ? Date.parse(next.bucketStart) : Math.min(now, Date.parse(c.bucketStart) + 60_000);
    const h = at(end);
    out.t.push(end / 1000);
    out.value.push((h.sats * decimalToCents(c.close)) / 100_000_000n);
    out.cost.push(h.cost);
  });
  const lastT = out.t.at(-1);
  if (livePrice && (lastT === undefined || lastT < now / 1000)) {
    out.t.push(now / 1000);
    out.value.push(valueOfSats(sats, livePrice));
    out.cost.push(cost);
  }
  return out;
}

// The chart's geometry needs numbers; every figure printed as text is formatted from the bigint.
const dollars = (cents: bigint): number => Number(cents) / 100;
const axisDollars = (_u: uPlot, ticks: number[]): string[] => ticks.map((v) => formatAud(BigInt(Math.round(v * 100))).replace(/\.\d\d$/, ''));

export function HoldingsChart(props: { candles: readonly Candle[]; purchases: readonly PurchasePoint[]; holdingsSats: bigint; holdingsCost: bigint; livePrice: string | null }) {
  const box = useRef<HTMLDivElement>(null);
  const series = useMemo(
    () => holdingsSeries(props.candles, props.purchases, props.holdingsSats, props.holdingsCost, props.livePrice),
    [props.candles, props.purchases, props.holdingsSats, props.holdingsCost, props.livePrice],
  );
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: el.clientWidth || 320,
      height: 260,
      series: [
        {},
        { label: 'Value', stroke: '#0f766e', width: 2, fill: 'rgba(15,118,110,0.08)', value: (_u, v) => (v === null ? '—' : formatAud(BigInt(Math.round(v * 100)))) },
        { label: 'Cost', stroke: '#b45309', width: 2, dash: [6, 4], value: (_u, v) => (v === null ? '—' : formatAud(BigInt(Math.round(v * 100)))) },
      ],
      axes: [{ stroke: '#475569' }, { stroke: '#475569', values: axisDollars, size: 70 }],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
    const plot = new uPlot(opts, [series.t, series.value.map(dollars), series.cost.map(dollars)], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 260 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [series]);
  const lastValue = series.value.at(-1);
  const lastCost = series.cost.at(-1);
  const summary =
    lastValue !== undefined && lastCost !== undefined
      ? `Holdings value ${formatAud(lastValue)} against a cost of ${formatAud(lastCost)} at the latest point, over ${series.t.length} points.`
      : 'No data.';
  return (
    <figure className="chart">
      <div ref={box} role="img" aria-label={summary} data-testid="holdings-chart" />
      <figcaption className="muted small">{summary}</figcaption>
    </figure>
  );
}
