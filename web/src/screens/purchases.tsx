import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { useLivePurchases } from '../api/live';
import { PurchasesQuery, RequestPurchaseMutation } from '../api/operations';
import { useViewer } from '../api/viewer';
import type { PurchaseStatus } from '../gql/graphql';
import { PurchaseTable } from '../components/purchase-table';
import { Button, Card, Empty, ErrorBanner, Field, Loading, Notice, PageHeader, Select } from '../components/ui';
import { formatAud, parseAudInput } from '../lib/money';
import { Link } from '../router';

const STATUSES: PurchaseStatus[] = ['PENDING', 'SUBMITTED', 'FILLED', 'PARTIALLY_FILLED', 'FAILED', 'CANCELLED'];
const PAGE = 20;
/** The API returns at most this many, newest first. */
const MAX = 200;

export function PurchasesScreen() {
  const { can } = useViewer();
  const [status, setStatus] = useState<PurchaseStatus | ''>('');
  const [limit, setLimit] = useState(PAGE * 3);
  const [page, setPage] = useState(0);
  const [{ data, error, fetching }, refetch] = useQuery({ query: PurchasesQuery, variables: { limit, status: status || null } });
  const all = useLivePurchases(data?.purchases, (p) => !status || p.status === status);
  const pages = Math.max(1, Math.ceil(all.length / PAGE));
  const shown = all.slice(page * PAGE, page * PAGE + PAGE);
  const mayHaveMore = (data?.purchases.length ?? 0) >= limit && limit < MAX;

  const next = (): void => {
    if ((page + 2) * PAGE > all.length && mayHaveMore) setLimit(Math.min(MAX, limit + PAGE * 3));
    setPage(page + 1);
  };

  return (
    <div>
      <PageHeader title="Purchases" subtitle="Every bitcoin purchase, what funded it and how it went. Status updates live." />
      {can('purchase:request') ? <BuyNow onDone={() => refetch({ requestPolicy: 'network-only' })} /> : null}
      <Card>
        <div className="filters">
          <Select
            label="Status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as PurchaseStatus | '');
              setPage(0);
            }}
            options={[{ value: '', label: 'All statuses' }, ...STATUSES.map((s) => ({ value: s, label: s.replace(/_/g, ' ').toLowerCase() }))]}
          />
        </div>
        <ErrorBanner error={data ? null : error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        {!data && fetching ? <Loading /> : null}
        {data && all.length === 0 ? (
          <Empty title={status ? `No ${status.replace(/_/g, ' ').toLowerCase()} purchases` : 'No purchases yet'}>
            {status ? (
              'Try another status.'
            ) : (
              <p>
                Purchases are made by your <Link to="/rules">rules</Link> from revenue your <Link to="/integrations">integrations</Link> report{can('purchase:request') ? ', or by "Buy now" above' : ''}.
              </p>
            )}
          </Empty>
        ) : null}
        {shown.length > 0 ? <PurchaseTable purchases={shown} caption="Purchases" showRule /> : null}
        {all.length > PAGE || mayHaveMore ? (
          <nav className="pager" aria-label="Pages of purchases">
            <Button variant="secondary" disabled={page === 0} onClick={() => setPage(page - 1)}>
              Previous
            </Button>
            <span aria-live="polite">
              Page {page + 1} of {pages}
              {mayHaveMore ? '+' : ''}
            </span>
            <Button variant="secondary" disabled={page + 1 >= pages && !mayHaveMore} busy={fetching && !!data} onClick={next}>
              Next
            </Button>
          </nav>
        ) : null}
        {limit >= MAX && (data?.purchases.length ?? 0) >= MAX ? <p className="muted small">Showing the newest {MAX}; older purchases are in the audit trail and reports.</p> : null}
      </Card>
    </div>
  );
}

function BuyNow({ onDone }: { onDone(): void }) {
  const [amount, setAmount] = useState('');
  const [problem, setProblem] = useState<string>();
  const [key, setKey] = useState(() => crypto.randomUUID());
  const [done, setDone] = useState<string>();
  const [result, request] = useMutation(RequestPurchaseMutation);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const parsed = parseAudInput(amount);
    if (!parsed.ok) return setProblem(parsed.error);
    if (BigInt(parsed.value) <= 0n) return setProblem('Enter an amount greater than zero');
    setProblem(undefined);
    // The idempotency key stays the same until it succeeds, so a retried click never buys twice.
    const r = await request({ amountAudCents: parsed.value, idempotencyKey: key });
    if (r.data) {
      setDone(`Purchase of ${formatAud(r.data.requestPurchase.amountAudCents)} requested — it appears below and updates live.`);
      setAmount('');
      setKey(crypto.randomUUID());
      onDone();
    }
  };
  return (
    <Card title="Buy now">
      <form className="inline-form" onSubmit={submit} noValidate>
        <Field label="Amount (AUD)" inputMode="decimal" placeholder="100.00" value={amount} onChange={(e) => setAmount(e.target.value)} error={problem ?? (result.error ? undefined : undefined)} />
        <Button type="submit" busy={result.fetching}>
          Buy bitcoin
        </Button>
      </form>
      <ErrorBanner error={result.error} />
      {done && !result.error ? <Notice tone="success">{done}</Notice> : null}
    </Card>
  );
}
