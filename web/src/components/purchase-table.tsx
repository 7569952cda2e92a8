import type { PurchaseRowFragment } from '../gql/graphql';
import { useViewer } from '../api/viewer';
import { Link } from '../router';
import { formatAud } from '../lib/money';
import { Aud, Gain, Sats, StatusBadge, When } from './ui';

const SOURCE: Record<string, string> = { RULE: 'Rule', MANUAL: 'Manual', SCHEDULE: 'Schedule', CUTOFF: 'Daily cut-off' };

/** Purchases as a table on wide screens and as stacked cards on phones (CSS), each linking to its story. */
export function PurchaseTable({ purchases, caption, showRule }: { purchases: (PurchaseRowFragment & { rule?: { name: string } | null })[]; caption: string; showRule?: boolean }) {
  const { tz } = useViewer();
  return (
    <table className="table responsive" data-testid="purchase-table">
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Status</th>
          <th scope="col" className="right">
            Amount
          </th>
          <th scope="col" className="right">
            Bitcoin
          </th>
          <th scope="col" className="right">
            Gain
          </th>
          <th scope="col">{showRule ? 'Rule' : 'Source'}</th>
        </tr>
      </thead>
      <tbody>
        {purchases.map((p) => (
          <tr key={p.id} data-purchase-id={p.id} data-status={p.status}>
            <td data-label="When">
              <Link to={`/purchases/${p.id}`}>
                <When iso={p.createdAt} tz={tz} />
                <span className="sr-only">
                  , purchase of {formatAud(p.amountAudCents)}, {p.status.replace(/_/g, ' ').toLowerCase()}
                </span>
              </Link>
            </td>
            <td data-label="Status">
              <StatusBadge status={p.status} />
            </td>
            <td data-label="Amount" className="right">
              <Aud cents={p.amountAudCents} />
            </td>
            <td data-label="Bitcoin" className="right">
              <Sats sats={p.satoshis} />
            </td>
            <td data-label="Gain" className="right">
              <Gain cents={p.unrealizedGainAud} />
            </td>
            <td data-label={showRule ? 'Rule' : 'Source'}>{showRule && p.rule ? p.rule.name : (SOURCE[p.source] ?? p.source)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
