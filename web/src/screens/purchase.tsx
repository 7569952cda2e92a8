import { useEffect } from 'react';
import { useMutation, useQuery } from 'urql';
import { useLive } from '../api/live';
import { AuditTrailQuery, CancelPurchaseMutation, PurchaseQuery } from '../api/operations';
import { useViewer } from '../api/viewer';
import { Aud, Button, Card, Empty, ErrorBanner, Facts, Gain, Loading, PageHeader, Sats, StatusBadge, When } from '../components/ui';
import { formatAud, formatPrice } from '../lib/money';
import { Link, match, useRouter } from '../router';

const FUNDING: Record<string, string> = { REVENUE: 'Revenue payment', REFUND: 'Refund', BALANCE: 'Balance event', RETURN: 'Returned from an unfilled purchase' };

export function PurchaseScreen() {
  const { path } = useRouter();
  const id = match('/purchases/:id', path)?.id ?? '';
  const { tz, can } = useViewer();
  const live = useLive();
  const [{ data, error, fetching }, refetch] = useQuery({ query: PurchaseQuery, variables: { id } });
  // The trail is in chain order and has no filter by subject: read its latest 200 entries (seq counts from 1).
  const [head] = useQuery({ query: AuditTrailQuery, variables: { first: 1 } });
  const total = head.data?.auditEvents.totalCount;
  const [audit, refetchAudit] = useQuery({
    query: AuditTrailQuery,
    variables: { first: 200, after: total !== undefined && total > 200 ? String(total - 200) : null },
    pause: total === undefined,
  });
  const [cancel, runCancel] = useMutation(CancelPurchaseMutation);
  const liveState = live.purchases.get(id);
  // A status change on the stream: reload the story (transitions, attempts, audit).
  useEffect(() => {
    if (liveState && data?.purchase && liveState.updatedAt > data.purchase.updatedAt) {
      refetch({ requestPolicy: 'network-only' });
      refetchAudit({ requestPolicy: 'network-only' });
    }
  }, [liveState, data?.purchase, refetch, refetchAudit]);

  const p = data?.purchase;
  if (!data && fetching) return <Loading />;
  if (!p) {
    return (
      <div>
        <PageHeader title="Purchase" />
        {error ? <ErrorBanner error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} /> : <Empty title="Purchase not found">It may belong to another business, or the link is wrong.</Empty>}
        <Link to="/purchases">Back to purchases</Link>
      </div>
    );
  }
  const status = liveState && liveState.updatedAt > p.updatedAt ? liveState.status : p.status;
  const entries = (audit.data?.auditEvents.edges ?? []).map((e) => e.node).filter((n) => n.subjectId === p.id);
  return (
    <div>
      <PageHeader
        title={`Purchase of ${formatAud(p.amountAudCents)}`}
        subtitle={
          <>
            <StatusBadge status={status} /> <span className="muted">requested</span> <When iso={p.createdAt} tz={tz} />
          </>
        }
        actions={
          can('purchase:request') && status === 'PENDING' ? (
            <Button variant="danger" busy={cancel.fetching} onClick={() => void runCancel({ id: p.id }).then(() => refetch({ requestPolicy: 'network-only' }))}>
              Cancel purchase
            </Button>
          ) : null
        }
      />
      <ErrorBanner error={cancel.error} />
      <div className="grid-2">
        <Card title="Outcome">
          <Facts
            items={[
              ['Status', <StatusBadge key="s" status={status} />],
              ['Bitcoin', <Sats key="b" sats={p.satoshis} />],
              ['Spent', <Aud key="sp" cents={p.spentAudCents} />],
              ['Fee', <Aud key="f" cents={p.feeAudCents} />],
              ['Cost (CGT cost base)', <Aud key="c" cents={p.costAudCents} />],
              ['Average price', p.averagePrice ? formatPrice(p.averagePrice) : '—'],
              ['Value now', <Aud key="v" cents={p.currentValueAud} />],
              ['Unrealised gain', <Gain key="g" cents={p.unrealizedGainAud} />],
              ['Exchange', p.exchange ?? '—'],
              ['Exchange order', p.exchangeOrderId ?? '—'],
              ['Client order id', <code key="o">{p.clientOrderId}</code>],
              ['Source', p.rule ? <Link to={`/rules/${p.rule.id}`}>{p.rule.name}</Link> : p.source.toLowerCase()],
            ]}
          />
          {p.failureReason ? <p className="alert alert-error">Failed: {p.failureReason}</p> : null}
        </Card>
        <Card title="Funded by">
          {p.fundedBy.length === 0 ? (
            <Empty title="No funding recorded" />
          ) : (
            <ul className="list">
              {p.fundedBy.map((f, i) => (
                <li key={i}>
                  <strong>{FUNDING[f.kind] ?? f.kind}</strong> <Aud cents={f.amountAudCents} />
                  {f.paymentEventId ? <span className="muted small"> · event {f.paymentEventId.slice(0, 8)}</span> : null}
                  {f.note ? <p className="muted small">{f.note}</p> : null}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      <Card title="What happened">
        <ol className="timeline" data-testid="transitions">
          {p.transitions.map((t) => (
            <li key={t.id}>
              <StatusBadge status={t.toStatus} /> <When iso={t.at} tz={tz} />
              {t.reason ? <p className="muted small">{t.reason}</p> : null}
            </li>
          ))}
        </ol>
      </Card>
      <Card title="Exchange attempts">
        {p.exchangeAttempts.length === 0 ? (
          <Empty title="No exchange calls yet" />
        ) : (
          <table className="table responsive">
            <caption className="sr-only">Exchange attempts</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Exchange</th>
                <th scope="col">Call</th>
                <th scope="col">Outcome</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {p.exchangeAttempts.map((a) => (
                <tr key={a.id}>
                  <td data-label="When">
                    <When iso={a.at} tz={tz} />
                  </td>
                  <td data-label="Exchange">{a.exchange}</td>
                  <td data-label="Call">{a.operation}</td>
                  <td data-label="Outcome">{a.outcome}</td>
                  <td data-label="Detail">{[a.errorKind, a.detail].filter(Boolean).join(': ') || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Audit entries">
        {audit.fetching && !audit.data ? <Loading /> : null}
        <ErrorBanner error={audit.data ? null : audit.error} />
        {audit.data && entries.length === 0 ? <Empty title="No audit entries among the latest 200 of the trail" /> : null}
        {entries.length > 0 ? (
          <ul className="list">
            {entries.map((e) => (
              <li key={e.id}>
                <code>#{e.seq}</code> <strong>{e.eventType}</strong> <When iso={e.createdAt} tz={tz} />
                <p className="muted small hash">hash {e.hash.slice(0, 16)}…</p>
              </li>
            ))}
          </ul>
        ) : null}
      </Card>
      <p>
        <Link to="/purchases">Back to purchases</Link>
      </p>
    </div>
  );
}
