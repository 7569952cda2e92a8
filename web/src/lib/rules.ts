import type { RuleFieldsFragment, TreasuryRuleType } from '../gql/graphql';
import { decimalToCents, parseAudInput, parsePercentInput, satsForCents } from './money';

/** The rule form as typed (strings), and what it becomes for the API. */
export type RuleForm = {
  name: string;
  type: TreasuryRuleType;
  percent: string;
  amount: string;
  schedule: string;
  cron: string;
  minOrder: string;
  maxPerPurchase: string;
  dailyCap: string;
  monthlyCap: string;
  provider: string;
  lookbackDays: string;
  cooldownMinutes: string;
};

export type RuleValues = {
  name: string;
  percentageBps: number | null;
  amountAudCents: string | null;
  schedule: string | null;
  minOrderAudCents: string;
  maxPerPurchaseAudCents: string | null;
  dailyCapAudCents: string | null;
  monthlyCapAudCents: string | null;
  provider: string | null;
  lookbackDays: number | null;
  cooldownMinutes: number | null;
};

export const RULE_TYPES: { value: TreasuryRuleType; label: string; help: string }[] = [
  { value: 'PERCENTAGE_OF_REVENUE', label: 'Share of revenue', help: 'Buys a percentage of every AUD payment your integrations report.' },
  { value: 'FIXED_DCA', label: 'Fixed amount on a schedule', help: 'Buys the same amount daily, weekly, monthly (09:00 your time) or on a cron schedule.' },
  { value: 'PRICE_DROP', label: 'Buy the dip', help: 'Buys when the price falls a percentage under its recent average.' },
  { value: 'BALANCE_THRESHOLD', label: 'Sweep cash above a balance', help: 'Sweeps cash above the amount you keep, from balance events.' },
];

export const emptyForm = (): RuleForm => ({
  name: '',
  type: 'PERCENTAGE_OF_REVENUE',
  percent: '',
  amount: '',
  schedule: 'DAILY',
  cron: '',
  minOrder: '',
  maxPerPurchase: '',
  dailyCap: '',
  monthlyCap: '',
  provider: '',
  lookbackDays: '',
  cooldownMinutes: '',
});

const dollars = (cents: string | null | undefined): string => (cents === null || cents === undefined ? '' : (BigInt(cents) / 100n).toString() + '.' + (BigInt(cents) % 100n).toString().padStart(2, '0'));

export function formFromRule(r: RuleFieldsFragment): RuleForm {
  const preset = r.schedule && ['DAILY', 'WEEKLY', 'MONTHLY'].includes(r.schedule);
  return {
    name: r.name,
    type: r.type,
    percent: r.percentageBps === null || r.percentageBps === undefined ? '' : (r.percentageBps / 100).toString(),
    amount: dollars(r.amountAudCents),
    schedule: r.schedule ? (preset ? r.schedule : 'CRON') : 'DAILY',
    cron: r.schedule && !preset ? r.schedule : '',
    minOrder: r.minOrderAudCents === '0' ? '' : dollars(r.minOrderAudCents),
    maxPerPurchase: dollars(r.maxPerPurchaseAudCents),
    dailyCap: dollars(r.dailyCapAudCents),
    monthlyCap: dollars(r.monthlyCapAudCents),
    provider: r.provider ?? '',
    lookbackDays: r.lookbackDays?.toString() ?? '',
    cooldownMinutes: r.cooldownMinutes?.toString() ?? '',
  };
}

const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;
export const isValidCron = (s: string): boolean => {
  const parts = s.trim().split(/\s+/);
  return parts.length === 5 && parts.every((p) => CRON_FIELD.test(p));
};

/** Which fields a rule type uses (others are not sent). */
export const usesField = (type: TreasuryRuleType) => ({
  percent: type === 'PERCENTAGE_OF_REVENUE' || type === 'PRICE_DROP',
  amount: type !== 'PERCENTAGE_OF_REVENUE',
  schedule: type === 'FIXED_DCA',
  provider: type === 'PERCENTAGE_OF_REVENUE',
  lookbackDays: type === 'PRICE_DROP',
  cooldownMinutes: type === 'PRICE_DROP',
});

/**
 * The same checks the API makes (subgraphs/treasury/treasury-rule.service.ts validateRule), so
 * mistakes show on the field before sending; the API checks again and its errors land on the field too.
 */
export function validateRuleForm(f: RuleForm): { values?: RuleValues; errors: Partial<Record<keyof RuleForm, string>> } {
  const errors: Partial<Record<keyof RuleForm, string>> = {};
  const use = usesField(f.type);
  const money = (key: keyof RuleForm, required: boolean): string | null => {
    const raw = f[key].trim();
    if (!raw) {
      if (required) errors[key] = 'Required for this kind of rule';
      return null;
    }
    const p = parseAudInput(raw);
    if (!p.ok) {
      errors[key] = p.error;
      return null;
    }
    return p.value;
  };
  const int = (key: keyof RuleForm, min: number, max: number, label: string): number | null => {
    const raw = f[key].trim();
    if (!raw) return null;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      errors[key] = `${label} must be a whole number from ${min} to ${max}`;
      return null;
    }
    return Number(raw);
  };

  const name = f.name.trim();
  if (name.length < 1 || name.length > 120) errors.name = 'Give the rule a name (up to 120 characters)';
  let percentageBps: number | null = null;
  if (use.percent) {
    if (!f.percent.trim()) errors.percent = f.type === 'PRICE_DROP' ? 'Required: how far under the average to buy' : 'Required: the share of each payment';
    else {
      const p = parsePercentInput(f.percent);
      if (!p.ok) errors.percent = p.error;
      else if (p.value < 1 || p.value > 10_000) errors.percent = 'Must be between 0.01% and 100%';
      else percentageBps = p.value;
    }
  }
  const amountAudCents = use.amount ? money('amount', true) : null;
  if (amountAudCents !== null && BigInt(amountAudCents) <= 0n) errors.amount = 'Must be greater than zero';
  let schedule: string | null = null;
  if (use.schedule) {
    if (f.schedule === 'CRON') {
      if (!isValidCron(f.cron)) errors.cron = 'Enter 5 cron fields, e.g. "0 9 * * 1-5" (09:00 on weekdays)';
      else schedule = f.cron.trim();
    } else schedule = f.schedule;
  }
  const minOrderAudCents = money('minOrder', false) ?? '0';
  const maxPerPurchaseAudCents = money('maxPerPurchase', false);
  const dailyCapAudCents = money('dailyCap', false);
  const monthlyCapAudCents = money('monthlyCap', false);
  for (const [k, v] of [
    ['maxPerPurchase', maxPerPurchaseAudCents],
    ['dailyCap', dailyCapAudCents],
    ['monthlyCap', monthlyCapAudCents],
  ] as const) {
    if (v !== null && BigInt(v) <= 0n) errors[k] = 'Must be greater than zero (leave empty for no limit)';
  }
  if (maxPerPurchaseAudCents !== null && BigInt(maxPerPurchaseAudCents) < BigInt(minOrderAudCents)) errors.maxPerPurchase = 'Must be at least the minimum order';
  if (dailyCapAudCents !== null && monthlyCapAudCents !== null && BigInt(dailyCapAudCents) > BigInt(monthlyCapAudCents)) errors.dailyCap = 'The daily cap cannot exceed the monthly cap';
  const provider = use.provider && f.provider ? f.provider : null;
  const lookbackDays = use.lookbackDays ? int('lookbackDays', 1, 365, 'Look-back days') : null;
  const cooldownMinutes = use.cooldownMinutes ? int('cooldownMinutes', 0, 525_600, 'Cooldown minutes') : null;
  if (Object.keys(errors).length > 0) return { errors };
  return {
    errors,
    values: { name, percentageBps, amountAudCents, schedule, minOrderAudCents, maxPerPurchaseAudCents, dailyCapAudCents, monthlyCapAudCents, provider, lookbackDays, cooldownMinutes },
  };
}

/** API field name → form field, for errors the API reports (extensions.field). */
export const API_FIELD: Record<string, keyof RuleForm> = {
  name: 'name',
  percentageBps: 'percent',
  amountAudCents: 'amount',
  schedule: 'schedule',
  minOrderAudCents: 'minOrder',
  maxPerPurchaseAudCents: 'maxPerPurchase',
  dailyCapAudCents: 'dailyCap',
  monthlyCapAudCents: 'monthlyCap',
  provider: 'provider',
  lookbackDays: 'lookbackDays',
  cooldownMinutes: 'cooldownMinutes',
};

export type Candle = { bucketStart: string; close: string };
export type PreviewBuy = { at: string; cents: bigint; sats: bigint; priceCents: bigint };
export type Preview = { buys: PreviewBuy[]; spentCents: bigint; sats: bigint; valueCents: bigint; days: number; note?: string };

/** The calendar day (YYYY-MM-DD) and weekday of an instant in a timezone. */
function localDay(iso: string, tz: string): { day: string; weekday: string; dom: string } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short' }).formatToParts(new Date(iso));
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return { day: `${get('year')}-${get('month')}-${get('day')}`, weekday: get('weekday'), dom: get('day') };
}

/**
 * What a rule would have bought on the stored daily candles (at each day's close), with its caps
 * (per purchase, daily and monthly in the tenant's timezone, the minimum order). Exact cents and sats.
 */
export function previewRule(v: RuleValues, type: TreasuryRuleType, candles: readonly Candle[], tz: string): Preview {
  const buys: PreviewBuy[] = [];
  const monthly = new Map<string, bigint>();
  let lastBuy = -Infinity;
  const closes = candles.map((c) => decimalToCents(c.close));
  candles.forEach((c, i) => {
    const close = decimalToCents(c.close);
    const { day, weekday, dom } = localDay(c.bucketStart, tz);
    let cents = 0n;
    if (type === 'FIXED_DCA' && v.amountAudCents) {
      const due = v.schedule === 'DAILY' || (v.schedule === 'WEEKLY' && weekday === 'Mon') || (v.schedule === 'MONTHLY' && dom === '01');
      if (due) cents = BigInt(v.amountAudCents);
    } else if (type === 'PRICE_DROP' && v.amountAudCents && v.percentageBps) {
      const look = v.lookbackDays ?? 30;
      const window = closes.slice(Math.max(0, i - look), i);
      const cooldownMs = (v.cooldownMinutes ?? 1440) * 60_000;
      if (window.length > 0 && Date.parse(c.bucketStart) - lastBuy >= cooldownMs) {
        const avg = window.reduce((a, x) => a + x, 0n) / BigInt(window.length);
        if (close * 10_000n <= avg * BigInt(10_000 - v.percentageBps)) cents = BigInt(v.amountAudCents);
      }
    }
    if (cents === 0n) return;
    if (v.maxPerPurchaseAudCents && cents > BigInt(v.maxPerPurchaseAudCents)) cents = BigInt(v.maxPerPurchaseAudCents);
    if (v.dailyCapAudCents && cents > BigInt(v.dailyCapAudCents)) cents = BigInt(v.dailyCapAudCents);
    const month = day.slice(0, 7);
    const spentMonth = monthly.get(month) ?? 0n;
    if (v.monthlyCapAudCents && spentMonth + cents > BigInt(v.monthlyCapAudCents)) cents = BigInt(v.monthlyCapAudCents) - spentMonth;
    if (cents <= 0n || cents < BigInt(v.minOrderAudCents)) return;
    monthly.set(month, spentMonth + cents);
    lastBuy = Date.parse(c.bucketStart);
    buys.push({ at: c.bucketStart, cents, sats: satsForCents(cents, close), priceCents: close });
  });
  const sats = buys.reduce((a, b) => a + b.sats, 0n);
  const spentCents = buys.reduce((a, b) => a + b.cents, 0n);
  const lastClose = closes.at(-1) ?? 0n;
  const note =
    type === 'FIXED_DCA' && v.schedule && !['DAILY', 'WEEKLY', 'MONTHLY'].includes(v.schedule)
      ? 'Cron schedules are not previewed; choose daily, weekly or monthly to see one.'
      : type === 'PERCENTAGE_OF_REVENUE' || type === 'BALANCE_THRESHOLD'
        ? 'This rule buys from your revenue or balance events, not on the price, so price history alone cannot preview it.'
        : undefined;
  return { buys, spentCents, sats, valueCents: (sats * lastClose) / 100_000_000n, days: candles.length, note };
}
