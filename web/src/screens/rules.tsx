import { useEffect, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { DisableRuleMutation, EnableRuleMutation, RulesQuery, TreasuryEventsSubscription, UpdateTreasurySettingsMutation } from '../api/operations';
import { useViewer } from '../api/viewer';
import type { RuleFieldsFragment } from '../gql/graphql';
import { Aud, Button, Card, Empty, ErrorBanner, Field, Loading, Notice, PageHeader, When } from '../components/ui';
import { formatAud, formatBps } from '../lib/money';
import { RULE_TYPES } from '../lib/rules';
import { zoneLabel } from '../lib/time';
import { Link, useRouter } from '../router';

export function describeRule(r: RuleFieldsFragment): string {
  switch (r.type) {
    case 'PERCENTAGE_OF_REVENUE':
      return `${formatBps(r.percentageBps ?? 0)} of ${r.provider ? r.provider + ' ' : ''}revenue`;
    case 'FIXED_DCA':
      return `${r.amountAudCents ? formatAud(r.amountAudCents) : '?'} ${(r.schedule ?? '').toLowerCase().match(/^(daily|weekly|monthly)$/) ? (r.schedule ?? '').toLowerCase() : `on "${r.schedule}"`}`;
    case 'PRICE_DROP':
      return `${r.amountAudCents ? formatAud(r.amountAudCents) : '?'} when ${formatBps(r.percentageBps ?? 0)} under the ${r.lookbackDays ?? 30}-day average`;
    case 'BALANCE_THRESHOLD':
      return `cash above ${r.amountAudCents ? formatAud(r.amountAudCents) : '?'}`;
  }
}

export function RulesScreen() {
  const { can, tz } = useViewer();
  const { navigate } = useRouter();
  const [{ data, error, fetching }, refetch] = useQuery({ query: RulesQuery });
  const [events] = useSubscription({ query: TreasuryEventsSubscription });
  const [limitNotice, setLimitNotice] = useState<string>();
  const event = events.data?.treasuryEvents;
  useEffect(() => {
    if (!event) return;
    if (event.change === 'LIMIT_REACHED') setLimitNotice(`${event.rule?.name ?? 'A rule'} reached a cap; the purchase waits for the next period.`);
    refetch({ requestPolicy: 'network-only' });
  }, [event, refetch]);
  const write = can('rule:write');
  return (
    <div>
      <PageHeader
        title="Rules"
        subtitle={`How revenue and cash become bitcoin. Caps and schedules run in ${zoneLabel(tz)}.`}
        actions={
          write ? (
            <Button onClick={() => navigate('/rules/new')} data-testid="new-rule">
              New rule
            </Button>
          ) : null
        }
      />
      {limitNotice ? <Notice tone="warning">{limitNotice}</Notice> : null}
      <ErrorBanner error={data ? null : error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      {!data && fetching ? <Loading /> : null}
      {data ? (
        data.treasuryRules.length === 0 ? (
          <Card>
            <Empty title="No rules yet" action={write ? <Button onClick={() => navigate('/rules/new')}>Create your first rule</Button> : undefined}>
              A rule turns a share of revenue, a fixed amount on a schedule, a price dip or spare cash into bitcoin.
              {write ? null : ' An owner or admin can create one.'}
            </Empty>
          </Card>
        ) : (
          <div className="rule-list">
            {data.treasuryRules.map((r) => (
              <RuleCard key={r.id} rule={r} write={write} tz={tz} />
            ))}
          </div>
        )
      ) : null}
      {data ? <SettingsCard settings={data.treasurySettings} write={write} tz={tz} /> : null}
    </div>
  );
}

function RuleCard({ rule, write, tz }: { rule: RuleFieldsFragment; write: boolean; tz: string }) {
  const [enable, runEnable] = useMutation(EnableRuleMutation);
  const [disable, runDisable] = useMutation(DisableRuleMutation);
  const type = RULE_TYPES.find((t) => t.value === rule.type);
  return (
    <Card
      headingLevel={2}
      title={
        <>
          {rule.name} <span className={`badge ${rule.enabled ? 'badge-success' : 'badge-neutral'}`}>{rule.enabled ? 'active' : 'paused'}</span>
        </>
      }
      actions={
        write ? (
          <>
            {rule.enabled ? (
              <Button variant="secondary" busy={disable.fetching} onClick={() => void runDisable({ id: rule.id })}>
                Pause
              </Button>
            ) : (
              <Button variant="secondary" busy={enable.fetching} onClick={() => void runEnable({ id: rule.id })}>
                Resume
              </Button>
            )}
            <Link className="btn btn-secondary" to={`/rules/${rule.id}`}>
              Edit
            </Link>
          </>
        ) : (
          <Link to={`/rules/${rule.id}`}>Details</Link>
        )
      }
    >
      <p>
        <strong>{type?.label}</strong>: {describeRule(rule)}
      </p>
      <p className="muted small">
        {rule.minOrderAudCents !== '0' ? <>Min order {formatAud(rule.minOrderAudCents)} · </> : null}
        {rule.maxPerPurchaseAudCents ? <>Max {formatAud(rule.maxPerPurchaseAudCents)} per purchase · </> : null}
        {rule.dailyCapAudCents ? (
          <>
            Daily cap <Aud cents={rule.dailyCapAudCents} /> ·{' '}
          </>
        ) : null}
        {rule.monthlyCapAudCents ? (
          <>
            Monthly cap <Aud cents={rule.monthlyCapAudCents} /> ·{' '}
          </>
        ) : null}
        Last fired <When iso={rule.lastFiredAt} tz={tz} />
        {rule.nextRunAt ? (
          <>
            {' '}
            · Next run <When iso={rule.nextRunAt} tz={tz} />
          </>
        ) : null}
      </p>
      <ErrorBanner error={enable.error ?? disable.error} />
    </Card>
  );
}

function SettingsCard({ settings, write, tz }: { settings: { primaryExchange: string; failoverExchanges: string[]; cutoffLocalTime: string }; write: boolean; tz: string }) {
  const [cutoff, setCutoff] = useState(settings.cutoffLocalTime);
  const [saved, setSaved] = useState(false);
  const [result, update] = useMutation(UpdateTreasurySettingsMutation);
  const problem = /^([01]\d|2[0-3]):[0-5]\d$/.test(cutoff) ? undefined : 'Use 24-hour HH:MM, e.g. 17:00';
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (problem) return;
    setSaved(false);
    const r = await update({ patch: { cutoffLocalTime: cutoff } });
    if (r.data) setSaved(true);
  };
  return (
    <Card title="Routing and daily cut-off">
      <p>
        Purchases go to <strong>{settings.primaryExchange}</strong>
        {settings.failoverExchanges.length ? <>, failing over to {settings.failoverExchanges.join(', ')}</> : null}. Amounts under the exchange minimum accrue and are bought at the
        daily cut-off.
      </p>
      {write ? (
        <form className="inline-form" onSubmit={submit} noValidate>
          <Field label={`Daily cut-off (${zoneLabel(tz)})`} value={cutoff} onChange={(e) => setCutoff(e.target.value)} error={problem} inputMode="numeric" />
          <Button type="submit" variant="secondary" busy={result.fetching}>
            Save cut-off
          </Button>
        </form>
      ) : (
        <p>Daily cut-off: {settings.cutoffLocalTime} ({zoneLabel(tz)})</p>
      )}
      <ErrorBanner error={result.error} />
      {saved && !result.error ? <Notice tone="success">Cut-off saved.</Notice> : null}
    </Card>
  );
}
