import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { readable } from '../api/errors';
import { ConnectIntegrationMutation, DisconnectIntegrationMutation, IntegrationsQuery } from '../api/operations';
import { useViewer } from '../api/viewer';
import type { PaymentProvider } from '../gql/graphql';
import { Button, Card, CopyButton, Empty, ErrorBanner, Field, Loading, Notice, PageHeader, Select, When } from '../components/ui';

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
      <RecentDeliveries />
    </div>
  );
}

/**
 * Recent webhook deliveries. The API's `paymentEvents` query is not in the supergraph yet; when it
 * lands, this component gets its query and a table, and nothing else on the screen changes.
 */
export function RecentDeliveries() {
  return (
    <Card title="Recent deliveries">
      <Empty title="Delivery history is coming">
        Each webhook your processors send will be listed here with its outcome (processed, skipped and why) once the API publishes payment events. Until then, purchases on the overview show
        which payments funded them.
      </Empty>
    </Card>
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
