import { randomUUID } from 'node:crypto';
import { isUuid } from '../uuid';
import { TAX_ACQUISITION_JOB, TAX_DISPOSAL_JOB, TaxFactV1, taxFactJobId } from './tax-facts';

describe('tax facts', () => {
  const tenantId = randomUUID();
  const purchaseId = randomUUID();
  const acquisition = {
    kind: 'acquisition',
    version: 1,
    tenantId,
    id: purchaseId,
    purchaseId,
    exchange: 'paper',
    exchangeOrderId: 'paper-1',
    at: '2026-12-02T00:00:00.000Z',
    sats: '66195',
    costAudCents: '10000',
    feeAudCents: '10',
  };

  it('gives each fact a stable job id of its own: a UUID, never the fact id, distinct per kind', () => {
    const job = taxFactJobId(TAX_ACQUISITION_JOB, purchaseId);
    expect(isUuid(job)).toBe(true);
    expect(job).toBe(taxFactJobId(TAX_ACQUISITION_JOB, purchaseId));
    expect(job).not.toBe(purchaseId);
    expect(taxFactJobId(TAX_DISPOSAL_JOB, purchaseId)).not.toBe(job);
    expect(taxFactJobId(TAX_ACQUISITION_JOB, randomUUID())).not.toBe(job);
  });

  it('accepts well-formed facts of both kinds and refuses bad amounts, ids and times', () => {
    expect(TaxFactV1.parse(acquisition)).toEqual(acquisition);
    const saleId = randomUUID();
    const disposal = { kind: 'disposal', version: 1, tenantId, id: saleId, saleId, type: 'SALE', exchange: 'paper', exchangeOrderId: null, at: acquisition.at, sats: '1', proceedsAudCents: '0', feeAudCents: '0', identification: { method: 'FIFO' } };
    expect(TaxFactV1.parse(disposal)).toEqual(disposal);
    for (const bad of [{ sats: '0' }, { sats: '-1' }, { sats: '1.5' }, { costAudCents: '-1' }, { tenantId: 'nope' }, { at: 'yesterday' }, { version: 2 }]) {
      expect(TaxFactV1.safeParse({ ...acquisition, ...bad }).success).toBe(false);
    }
  });
});
