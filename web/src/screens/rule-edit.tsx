import { useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { readable } from '../api/errors';
import { CreateRuleMutation, DeleteRuleMutation, PriceHistoryQuery, RuleQuery, UpdateRuleMutation } from '../api/operations';
import { useViewer } from '../api/viewer';
import type { RuleFieldsFragment, TreasuryRuleType } from '../gql/graphql';
import { Button, Card, Empty, ErrorBanner, Facts, Field, Loading, PageHeader, Select, Sats } from '../components/ui';
import { formatAud, formatSats, parseAudInput, parsePercentInput, shareOfCents } from '../lib/money';
import { API_FIELD, RULE_TYPES, emptyForm, formFromRule, previewRule, usesField, validateRuleForm, type RuleForm, type RuleValues } from '../lib/rules';
import { formatDate, zoneLabel } from '../lib/time';
import { Link, match, useRouter } from '../router';
import { describeRule } from './rules';

export function RuleEditScreen() {
  const { path } = useRouter();
  const id = match('/rules/:id', path)?.id;
  const isNew = path === '/rules/new';
  const [{ data, error, fetching }] = useQuery({ query: RuleQuery, variables: { id: id ?? '' }, pause: isNew });
  if (isNew) return <RuleEditor />;
  if (!data && fetching) return <Loading />;
  if (!data?.treasuryRule) {
    return (
      <div>
        <PageHeader title="Rule" />
        {error ? <ErrorBanner error={error} /> : <Empty title="Rule not found">It may have been deleted.</Empty>}
        <Link to="/rules">Back to rules</Link>
      </div>
    );
  }
  return <RuleEditor rule={data.treasuryRule} />;
}

function RuleEditor({ rule }: { rule?: RuleFieldsFragment }) {
  const { can, tz } = useViewer();
  const { navigate } = useRouter();
  const write = can('rule:write');
  const [form, setForm] = useState<RuleForm>(() => (rule ? formFromRule(rule) : emptyForm()));
  const [submitted, setSubmitted] = useState(false);
  const [serverField, setServerField] = useState<{ field: keyof RuleForm; message: string }>();
  const [create, runCreate] = useMutation(CreateRuleMutation);
  const [update, runUpdate] = useMutation(UpdateRuleMutation);
  const [del, runDelete] = useMutation(DeleteRuleMutation);
  const check = validateRuleForm(form);
  const use = usesField(form.type);
  const set = (k: keyof RuleForm) => (e: { target: { value: string } }) => {
    setForm({ ...form, [k]: e.target.value });
    if (serverField?.field === k) setServerField(undefined);
  };
  const err = (k: keyof RuleForm): string | undefined => (serverField?.field === k ? serverField.message : submitted ? check.errors[k] : undefined);
  const apiError = create.error ?? update.error ?? del.error;
  const apiReadable = apiError ? readable(apiError) : undefined;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setSubmitted(true);
    const v = check.values;
    if (!v) {
      document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    const r = rule ? await runUpdate({ id: rule.id, patch: { ...patchOf(v), expectedVersion: rule.version } }) : await runCreate({ input: { ...patchOf(v), type: form.type, enabled: true } });
    if (r.error) {
      const re = readable(r.error);
      const field = re.field ? API_FIELD[re.field] : undefined;
      if (field) setServerField({ field, message: re.detail ?? re.title });
      return;
    }
    navigate('/rules');
  };

  const remove = async (): Promise<void> => {
    if (!rule || !window.confirm(`Delete the rule "${rule.name}"? Purchases it made stay.`)) return;
    const r = await runDelete({ id: rule.id });
    if (!r.error) navigate('/rules');
  };

  if (!write && rule) {
    return (
      <div>
        <PageHeader title={rule.name} subtitle={describeRule(rule)} />
        <Card title="Rule">
          <Facts
            items={[
              ['Kind', RULE_TYPES.find((t) => t.value === rule.type)?.label ?? rule.type],
              ['Status', rule.enabled ? 'active' : 'paused'],
              ['Minimum order', formatAud(rule.minOrderAudCents)],
              ['Max per purchase', rule.maxPerPurchaseAudCents ? formatAud(rule.maxPerPurchaseAudCents) : 'no limit'],
              ['Daily cap', rule.dailyCapAudCents ? formatAud(rule.dailyCapAudCents) : 'no cap'],
              ['Monthly cap', rule.monthlyCapAudCents ? formatAud(rule.monthlyCapAudCents) : 'no cap'],
              ['Timezone', zoneLabel(tz)],
            ]}
          />
        </Card>
        {check.values ? <RulePreview values={check.values} type={rule.type} /> : null}
        <Link to="/rules">Back to rules</Link>
      </div>
    );
  }
  if (!write) {
    return (
      <div>
        <PageHeader title="New rule" />
        <Empty title="Only owners and admins create rules" />
      </div>
    );
  }

  return (
    <div>
      <PageHeader title={rule ? `Edit ${rule.name}` : 'New rule'} subtitle={`Caps and schedules are in ${zoneLabel(tz)}.`} />
      <form onSubmit={submit} noValidate className="rule-form">
        <Card title="What it does">
          <Field label="Name" value={form.name} onChange={set('name')} error={err('name')} maxLength={120} required />
          {rule ? (
            <p>
              <strong>Kind:</strong> {RULE_TYPES.find((t) => t.value === form.type)?.label} <span className="muted">(a rule's kind cannot change)</span>
            </p>
          ) : (
            <fieldset className="radio-group">
              <legend>Kind of rule</legend>
              {RULE_TYPES.map((t) => (
                <label key={t.value} className="radio">
                  <input type="radio" name="type" value={t.value} checked={form.type === t.value} onChange={() => setForm({ ...form, type: t.value })} />
                  <span>
                    <strong>{t.label}</strong>
                    <span className="muted small block">{t.help}</span>
                  </span>
                </label>
              ))}
            </fieldset>
          )}
          {use.percent ? (
            <Field
              label={form.type === 'PRICE_DROP' ? 'Drop under the average (%)' : 'Share of each payment (%)'}
              inputMode="decimal"
              value={form.percent}
              onChange={set('percent')}
              error={err('percent')}
              hint={form.type === 'PRICE_DROP' ? 'e.g. 5 buys when the price is 5% under its average.' : 'e.g. 10 buys bitcoin with 10% of each AUD payment.'}
            />
          ) : null}
          {use.amount ? (
            <Field
              label={form.type === 'BALANCE_THRESHOLD' ? 'Cash to keep (AUD)' : 'Amount per purchase (AUD)'}
              inputMode="decimal"
              value={form.amount}
              onChange={set('amount')}
              error={err('amount')}
              placeholder="100.00"
            />
          ) : null}
          {use.schedule ? (
            <>
              <Select
                label="Schedule"
                value={form.schedule}
                onChange={set('schedule')}
                error={err('schedule')}
                hint={`Daily, weekly (Mondays) and monthly (the 1st) buy at 09:00 ${zoneLabel(tz)}.`}
                options={[
                  { value: 'DAILY', label: 'Daily' },
                  { value: 'WEEKLY', label: 'Weekly' },
                  { value: 'MONTHLY', label: 'Monthly' },
                  { value: 'CRON', label: 'Custom (cron)' },
                ]}
              />
              {form.schedule === 'CRON' ? <Field label="Cron expression" value={form.cron} onChange={set('cron')} error={err('cron')} hint="minute hour day month weekday, e.g. 0 9 * * 1-5" /> : null}
            </>
          ) : null}
          {use.provider ? (
            <Select
              label="Count revenue from"
              value={form.provider}
              onChange={set('provider')}
              error={err('provider')}
              options={[
                { value: '', label: 'Every integration' },
                { value: 'stripe', label: 'Stripe only' },
                { value: 'square', label: 'Square only' },
                { value: 'paypal', label: 'PayPal only' },
              ]}
            />
          ) : null}
          {use.lookbackDays ? <Field label="Average over (days)" inputMode="numeric" value={form.lookbackDays} onChange={set('lookbackDays')} error={err('lookbackDays')} placeholder="30" /> : null}
          {use.cooldownMinutes ? (
            <Field label="Wait after buying (minutes)" inputMode="numeric" value={form.cooldownMinutes} onChange={set('cooldownMinutes')} error={err('cooldownMinutes')} placeholder="1440" />
          ) : null}
        </Card>
        <Card title="Limits">
          <p className="muted small">Leave empty for no limit. Daily and monthly caps reset at midnight {zoneLabel(tz)}.</p>
          <div className="grid-2">
            <Field label="Minimum order (AUD)" inputMode="decimal" value={form.minOrder} onChange={set('minOrder')} error={err('minOrder')} hint="Smaller amounts accrue until they reach it." />
            <Field label="Maximum per purchase (AUD)" inputMode="decimal" value={form.maxPerPurchase} onChange={set('maxPerPurchase')} error={err('maxPerPurchase')} />
            <Field label="Daily cap (AUD)" inputMode="decimal" value={form.dailyCap} onChange={set('dailyCap')} error={err('dailyCap')} />
            <Field label="Monthly cap (AUD)" inputMode="decimal" value={form.monthlyCap} onChange={set('monthlyCap')} error={err('monthlyCap')} />
          </div>
        </Card>
        {apiReadable && !serverField ? <ErrorBanner error={apiReadable} /> : null}
        <div className="form-actions">
          <Button type="submit" busy={create.fetching || update.fetching}>
            {rule ? 'Save rule' : 'Create rule'}
          </Button>
          <Link to="/rules" className="btn btn-ghost">
            Cancel
          </Link>
          {rule ? (
            <Button variant="danger" busy={del.fetching} onClick={() => void remove()}>
              Delete rule
            </Button>
          ) : null}
        </div>
      </form>
      {check.values ? <RulePreview values={check.values} type={form.type} /> : <Card title="Preview">Fill in the rule to preview it.</Card>}
    </div>
  );
}

/** Fields of the API input; null clears an optional limit on update. */
function patchOf(v: RuleValues) {
  return {
    name: v.name,
    percentageBps: v.percentageBps,
    amountAudCents: v.amountAudCents,
    schedule: v.schedule,
    minOrderAudCents: v.minOrderAudCents,
    maxPerPurchaseAudCents: v.maxPerPurchaseAudCents,
    dailyCapAudCents: v.dailyCapAudCents,
    monthlyCapAudCents: v.monthlyCapAudCents,
    provider: v.provider,
    lookbackDays: v.lookbackDays,
    cooldownMinutes: v.cooldownMinutes,
  };
}

const YEAR_AGO = (): string => new Date(Math.floor((Date.now() - 365 * 86_400_000) / 86_400_000) * 86_400_000).toISOString();

function RulePreview({ values, type }: { values: RuleValues; type: TreasuryRuleType }) {
  const { tz } = useViewer();
  const from = useMemo(YEAR_AGO, []);
  const [{ data, error, fetching }] = useQuery({ query: PriceHistoryQuery, variables: { interval: 'ONE_DAY', from } });
  const preview = useMemo(() => (data ? previewRule(values, type, data.priceHistory, tz) : null), [data, values, type, tz]);
  return (
    <Card title="Preview on stored price history">
      <ErrorBanner error={data ? null : error} />
      {!data && fetching ? <Loading label="Loading price history…" /> : null}
      {type === 'PERCENTAGE_OF_REVENUE' && values.percentageBps ? <RevenueExample bps={values.percentageBps} /> : null}
      {preview ? (
        preview.note ? (
          <p className="muted">{preview.note}</p>
        ) : preview.days === 0 ? (
          <Empty title="No daily prices stored yet">The preview uses the daily candles the price feed records; it fills in as the platform runs.</Empty>
        ) : (
          <div data-testid="rule-preview">
            <p>
              Over the last {preview.days} day{preview.days === 1 ? '' : 's'} of stored prices this rule would have bought <strong>{preview.buys.length}</strong> time
              {preview.buys.length === 1 ? '' : 's'}: <strong>{formatAud(preview.spentCents)}</strong> for <Sats sats={preview.sats} />, worth {formatAud(preview.valueCents)} at the
              latest close.
            </p>
            {preview.days < 7 ? <p className="muted small">Only {preview.days} day(s) of prices are stored so far; the preview grows as the feed records more.</p> : null}
            {preview.buys.length > 0 ? (
              <ul className="list compact">
                {preview.buys.slice(-5).map((b) => (
                  <li key={b.at}>
                    {formatDate(b.at, tz)}: {formatAud(b.cents)} → {formatSats(b.sats)} at {formatAud(b.priceCents)}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        )
      ) : null}
    </Card>
  );
}

function RevenueExample({ bps }: { bps: number }) {
  const [sample, setSample] = useState('1000.00');
  const parsed = parseAudInput(sample);
  const pct = parsePercentInput(String(bps / 100));
  return (
    <div className="inline-form">
      <Field label="Example payment (AUD)" inputMode="decimal" value={sample} onChange={(e) => setSample(e.target.value)} error={parsed.ok ? undefined : parsed.error} />
      <p aria-live="polite">
        {parsed.ok && pct.ok ? (
          <>
            accrues <strong>{formatAud(shareOfCents(BigInt(parsed.value), bps))}</strong> towards bitcoin (fractions of a cent carry over).
          </>
        ) : null}
      </p>
    </div>
  );
}
