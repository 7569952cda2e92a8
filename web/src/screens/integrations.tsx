import { useEffect, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { readable } from '../api/errors';
import { ConnectIntegrationMutation, DisconnectIntegrationMutation, IntegrationsQuery, PaymentEventsQuery } from '../api/operations';
import { useViewer } from '../api/viewer';
import type { PaymentEventStatus, PaymentProvider } from '../gql/graphql';
import { formatMinorUnits } from '../lib/money';
import { Link } from '../router';
import { Aud, Button, Card, CopyButton, Empty, ErrorBanner, Field, Loading, Notice, PageHeader, Select, StatusBadge, When } from '../components/ui';

const PROVIDERS: { value: PaymentProvider; label: string }[] = [
  { value: 'STRIPE', label: 'Stripe' },
  { value: 'SQUARE', label: 'Square' },
  { value: 'PAYPAL', label: 'PayPal' },
];

export function IntegrationsScreen() {
  const { can, tz } = useViewer();
  const [{ data, error, fetching }, refetch] = useQuery({ query: IntegrationsQuery });
  const [disconnect, runDisconnect] = useMutation(DisconnectIntegrationMutation);
  const write = can('integration:write');
  const active = data?.paymentIntegrations ?? [];
  return (
    <div>
      <PageHeader title="Integrations" subtitle="Connect the payment processors whose revenue your rules act on." />
      {write ? <ConnectForm onConnected={() => refetch({ requestPolicy: 'network-only' })} /> : null}
      <Card title="Connected">
        <ErrorBanner error={data ? null : error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        {!data && fetching ? <Loading /> : null}
        {data && active.length === 0 ? (
          <Empty title="Nothing connected yet">{write ? 'Connect Stripe, Square or PayPal above.' : 'An owner or admin can connect Stripe, Square or PayPal.'}</Empty>
        ) : null}
        <ul className="integration-list">
          {active.map((i) => (
            <li key={i.id} className="integration" data-integration-id={i.id}>
              <div className="integration-head">
                <h3>
                  {i.name} <span className="muted small">{PROVIDERS.find((p) => p.value === i.provider)?.label}</span>
                </h3>
                <span className={`badge ${i.status === 'ACTIVE' ? 'badge-success' : 'badge-neutral'}`}>{i.status.toLowerCase()}</span>
              </div>
              <p className="muted small">
                Connected <When iso={i.createdAt} tz={tz} />
              </p>
              <div className="webhook">
                <p className="label" id={`wh-${i.id}`}>
                  Webhook URL — paste it into {PROVIDERS.find((p) => p.value === i.provider)?.label}'s webhook settings
                </p>
                <div className="copy-row">
                  <code aria-labelledby={`wh-${i.id}`} data-testid="webhook-url">
                    {i.webhookUrl}
                  </code>
                  <CopyButton text={i.webhookUrl} label="Copy URL" />
                </div>
              </div>
              {write && i.status === 'ACTIVE' ? (
                <Button
                  variant="danger"
                  busy={disconnect.fetching}
                  onClick={() => {
                    if (window.confirm(`Disconnect ${i.name}? Its webhooks will be refused.`)) void runDisconnect({ id: i.id }).then(() => refetch({ requestPolicy: 'network-only' }));
                  }}
                >
                  Disconnect
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
        <ErrorBanner error={disconnect.error} />
      </Card>
      <RecentDeliveries integrations={active.map((i) => ({ id: i.id, name: i.name }))} />
    </div>
  );
}

const DELIVERY_STATUSES: { value: '' | PaymentEventStatus; label: string }[] = [
  { value: '', label: 'All' },
  { value: 'PROCESSED', label: 'Processed' },
  { value: 'SKIPPED', label: 'Skipped' },
  { value: 'IGNORED', label: 'Ignored' },
  { value: 'RECEIVED', label: 'Waiting' },
];
const PAGE = 20;
/** Deliveries still waiting for the treasury are refreshed this often (they settle within seconds). */
const REFRESH_MS = 5000;

/**
 * Recent webhook deliveries (`paymentEvents`), newest first: what each processor sent, whether the
 * treasury acted on it and why not, and the purchases it funded. Filter by status, page with "Load more".
 */
export function RecentDeliveries({ integrations }: { integrations: { id: string; name: string }[] }) {
  const { tz } = useViewer();
  const [status, setStatus] = useState<'' | PaymentEventStatus>('');
  const [integrationId, setIntegrationId] = useState('');
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const filters = { status: status || undefined, integrationId: integrationId || undefined };
  const reset = (): void => setPages([null]);
  return (
    <Card title="Recent deliveries">
      <div className="grid-2">
        <Select
          label="Outcome"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as '' | PaymentEventStatus);
            reset();
          }}
          options={DELIVERY_STATUSES}
        />
        {integrations.length > 1 ? (
          <Select
            label="Integration"
            value={integrationId}
            onChange={(e) => {
              setIntegrationId(e.target.value);
              reset();
            }}
            options={[{ value: '', label: 'All' }, ...integrations.map((i) => ({ value: i.id, label: i.name }))]}
          />
        ) : null}
      </div>
      <table className="table responsive" data-testid="deliveries">
        <caption className="sr-only">Webhook deliveries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Received</th>
            <th scope="col">Event</th>
            <th scope="col" className="right">
              Amount
            </th>
            <th scope="col">Outcome</th>
            <th scope="col">Purchases</th>
          </tr>
        </thead>
        {pages.map((after, i) => (
          <DeliveryPage
            key={`${status}|${integrationId}|${after ?? ''}`}
            after={after}
            filters={filters}
            tz={tz}
            last={i === pages.length - 1}
            onMore={(cursor) => setPages((p) => [...p, cursor])}
          />
        ))}
      </table>
    </Card>
  );
}

function DeliveryPage({
  after,
  filters,
  tz,
  last,
  onMore,
}: {
  after: string | null;
  filters: { status?: PaymentEventStatus; integrationId?: string };
  tz: string;
  last: boolean;
  onMore(cursor: string): void;
}) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: PaymentEventsQuery, variables: { first: PAGE, after, ...filters } });
  const edges = data?.paymentEvents.edges ?? [];
  const waiting = edges.some((e) => e.node.status === 'RECEIVED');
  useEffect(() => {
    if (!waiting) return undefined;
    const t = setInterval(() => refetch({ requestPolicy: 'network-only' }), REFRESH_MS);
    return () => clearInterval(t);
  }, [waiting, refetch]);
  return (
    <tbody>
      {!data && fetching ? (
        <tr>
          <td colSpan={5}>
            <Loading label="Loading deliveries…" />
          </td>
        </tr>
      ) : null}
      {!data && error ? (
        <tr>
          <td colSpan={5}>
            <ErrorBanner error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
          </td>
        </tr>
      ) : null}
      {data && edges.length === 0 && after === null ? (
        <tr>
          <td colSpan={5}>
            <Empty title="No deliveries yet">Each webhook your processors send appears here with its outcome: processed, skipped and why, or ignored.</Empty>
          </td>
        </tr>
      ) : null}
      {edges.map(({ node: e }) => (
        <tr key={e.id} data-payment-event-id={e.id} data-status={e.status}>
          <td data-label="Received">
            <When iso={e.receivedAt} tz={tz} />
          </td>
          <td data-label="Event">
            <span>
              {e.eventType}
              <span className="muted small"> {PROVIDERS.find((p) => p.value === e.provider)?.label ?? e.provider} · <code>{e.providerEventId}</code></span>
              {e.sanitized ? <span className="muted small"> · unprintable characters replaced (original bytes kept)</span> : null}
            </span>
          </td>
          <td data-label="Amount" className="right">
            {e.amount != null && e.currency ? <span className="num">{formatMinorUnits(e.amount, e.currency)}</span> : <span className="muted">—</span>}
          </td>
          <td data-label="Outcome">
            <span>
              <StatusBadge status={e.status} />
              {e.reason ? <span className="muted small"> {e.reason}</span> : null}
            </span>
          </td>
          <td data-label="Purchases">
            {e.purchases.length === 0 ? (
              <span className="muted">—</span>
            ) : (
              <span className="purchase-links">
                {e.purchases.map((p) => (
                  <Link key={p.id} to={`/purchases/${p.id}`} className="purchase-link">
                    <Aud cents={p.amountAudCents} /> <StatusBadge status={p.status} />
                  </Link>
                ))}
              </span>
            )}
          </td>
        </tr>
      ))}
      {last && data?.paymentEvents.hasNextPage && data.paymentEvents.endCursor ? (
        <tr>
          <td colSpan={5}>
            <Button variant="secondary" onClick={() => onMore(data.paymentEvents.endCursor as string)}>
              Load more
            </Button>
          </td>
        </tr>
      ) : null}
    </tbody>
  );
}

function ConnectForm({ onConnected }: { onConnected(): void }) {
  const [provider, setProvider] = useState<PaymentProvider>('STRIPE');
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const [clientId, setClientId] = useState('');
  const [webhookId, setWebhookId] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const [connected, setConnected] = useState<string>();
  const [result, connect] = useMutation(ConnectIntegrationMutation);
  const problems: Record<string, string | undefined> = {
    name: name.trim() ? undefined : 'Give it a name, e.g. "Stripe AU"',
    secret: secret.trim() ? undefined : provider === 'STRIPE' ? 'Paste the signing secret (whsec_…)' : provider === 'SQUARE' ? 'Paste the signature key' : 'Paste the client secret',
    clientId: provider !== 'PAYPAL' || clientId.trim() ? undefined : 'Paste the client id',
    webhookId: provider !== 'PAYPAL' || webhookId.trim() ? undefined : 'Paste the webhook id',
  };
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setSubmitted(true);
    if (Object.values(problems).some(Boolean)) return;
    const input =
      provider === 'STRIPE'
        ? { provider, name: name.trim(), stripeWebhookSecret: secret.trim() }
        : provider === 'SQUARE'
          ? { provider, name: name.trim(), squareSignatureKey: secret.trim() }
          : { provider, name: name.trim(), paypalClientId: clientId.trim(), paypalClientSecret: secret.trim(), paypalWebhookId: webhookId.trim() };
    const r = await connect({ input });
    if (r.data) {
      setConnected(`${r.data.connectPaymentIntegration.name} is connected. Paste its webhook URL below into ${PROVIDERS.find((p) => p.value === provider)?.label}.`);
      setName('');
      setSecret('');
      setClientId('');
      setWebhookId('');
      setSubmitted(false);
      onConnected();
    }
  };
  const shown = (k: string): string | undefined => (submitted ? problems[k] : undefined);
  const apiErr = result.error ? readable(result.error) : undefined;
  return (
    <Card title="Connect a processor">
      <form onSubmit={submit} noValidate>
        <div className="grid-2">
          <Select label="Processor" value={provider} onChange={(e) => setProvider(e.target.value as PaymentProvider)} options={PROVIDERS} />
          <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} error={shown('name')} placeholder="Stripe AU" />
          {provider === 'PAYPAL' ? <Field label="PayPal client id" value={clientId} onChange={(e) => setClientId(e.target.value)} error={shown('clientId')} autoComplete="off" /> : null}
          <Field
            label={provider === 'STRIPE' ? 'Webhook signing secret' : provider === 'SQUARE' ? 'Webhook signature key' : 'PayPal client secret'}
            type="password"
            autoComplete="off"
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            error={shown('secret')}
            hint="Stored sealed; never shown again."
          />
          {provider === 'PAYPAL' ? <Field label="PayPal webhook id" value={webhookId} onChange={(e) => setWebhookId(e.target.value)} error={shown('webhookId')} autoComplete="off" /> : null}
        </div>
        <ErrorBanner error={apiErr} />
        <Button type="submit" busy={result.fetching}>
          Connect
        </Button>
      </form>
      {connected && !result.error ? <Notice tone="success">{connected}</Notice> : null}
    </Card>
  );
}
