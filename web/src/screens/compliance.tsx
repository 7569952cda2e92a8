import { useState } from 'react';
import { useQuery } from 'urql';
import { AuditTrailQuery, VerifyAuditChainQuery } from '../api/operations';
import { useViewer } from '../api/viewer';
import { Button, Card, Empty, ErrorBanner, Loading, Notice, PageHeader, Progress, When } from '../components/ui';

const PAGE = 25;

export function ComplianceScreen() {
  return (
    <div>
      <PageHeader title="Compliance & reports" subtitle="The tamper-evident audit trail, tax reports and business verification." />
      <ChainCheck />
      <AuditTrail />
      <div className="grid-2">
        <Card title="Tax reports (CGT)">
          <Empty title="Coming soon">
            Capital gains reports for the ATO — parcels, cost base and disposals for each financial year — will be generated here. Every purchase's cost base (fees included) is already
            recorded for them.
          </Empty>
        </Card>
        <Card title="Business verification (KYB)">
          <Empty title="Coming soon">
            Verifying your business for AUSTRAC (AML/CTF) will happen here: company details, beneficial owners and documents. You will be told here when it is needed.
          </Empty>
        </Card>
      </div>
    </div>
  );
}

function ChainCheck() {
  const [asked, setAsked] = useState(false);
  const [{ data, error, fetching }, run] = useQuery({ query: VerifyAuditChainQuery, pause: !asked, requestPolicy: 'network-only' });
  const v = data?.verifyAuditChain;
  return (
    <Card title="Chain verification">
      <p>Each audit entry stores the hash of the one before it; verifying recomputes every hash to prove nothing was changed, removed or reordered.</p>
      <Button
        onClick={() => {
          if (asked) run({ requestPolicy: 'network-only' });
          else setAsked(true);
        }}
        busy={fetching}
        data-testid="verify-chain"
      >
        Verify the chain
      </Button>
      {fetching ? <Progress label="Recomputing every hash of the chain…" /> : null}
      <ErrorBanner error={error} />
      {v && !fetching ? (
        v.valid ? (
          <Notice tone="success">
            <span data-testid="chain-result">Intact: all {v.eventsChecked} entries verified.</span>
          </Notice>
        ) : (
          <div className="alert alert-error" role="alert" data-testid="chain-result">
            <p className="alert-title">The chain is broken at entry #{v.firstBadSeq}</p>
            <p className="alert-detail">{v.reason}</p>
          </div>
        )
      ) : null}
    </Card>
  );
}

function AuditTrail() {
  const { tz } = useViewer();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const [{ data, error, fetching }, refetch] = useQuery({ query: AuditTrailQuery, variables: { first: PAGE, after } });
  const conn = data?.auditEvents;
  return (
    <Card title="Audit trail">
      <ErrorBanner error={data ? null : error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      {!data && fetching ? <Loading /> : null}
      {conn && conn.edges.length === 0 ? <Empty title="No audit entries yet">Every change to rules, integrations, members and purchases is recorded here.</Empty> : null}
      {conn && conn.edges.length > 0 ? (
        <>
          <p className="muted small">{conn.totalCount} entries in all, in chain order (oldest first).</p>
          <table className="table responsive" data-testid="audit-table">
            <caption className="sr-only">Audit entries</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Subject</th>
                <th scope="col">Hash</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: e }) => (
                <tr key={e.id}>
                  <td data-label="#">{e.seq}</td>
                  <td data-label="When">
                    <When iso={e.createdAt} tz={tz} />
                  </td>
                  <td data-label="Event">
                    <strong>{e.eventType}</strong>
                  </td>
                  <td data-label="Subject">
                    {e.subjectType} <code className="small">{e.subjectId.slice(0, 8)}</code>
                  </td>
                  <td data-label="Hash">
                    <code className="small hash" title={e.hash}>
                      {e.hash.slice(0, 12)}…
                    </code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" aria-label="Pages of the audit trail">
            <Button variant="secondary" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Earlier entries
            </Button>
            <span>Page {cursors.length}</span>
            <Button variant="secondary" disabled={!conn.pageInfo.hasNextPage} busy={fetching} onClick={() => setCursors([...cursors, conn.pageInfo.endCursor ?? null])}>
              Later entries
            </Button>
          </nav>
        </>
      ) : null}
    </Card>
  );
}
