/**
 * ABR entity type codes (ABN Lookup reference data, "Entity types") and the tax entity each
 * feeds into the tax profile. Government entity codes (C*, S*, L*, T* prefixes) and anything
 * not listed map to OTHER, which asks the accountant to confirm the profile.
 */

export type TaxEntityType = 'COMPANY' | 'INDIVIDUAL' | 'TRUST' | 'SMSF' | 'OTHER';

export const ENTITY_TYPES: Readonly<Record<string, { description: string; taxEntity: TaxEntityType }>> = {
  PRV: { description: 'Australian Private Company', taxEntity: 'COMPANY' },
  PUB: { description: 'Australian Public Company', taxEntity: 'COMPANY' },
  COP: { description: 'Co-operative', taxEntity: 'COMPANY' },
  PDF: { description: 'Pooled Development Fund', taxEntity: 'COMPANY' },
  IND: { description: 'Individual/Sole Trader', taxEntity: 'INDIVIDUAL' },
  SMF: { description: 'ATO Regulated Self-Managed Superannuation Fund', taxEntity: 'SMSF' },
  DIT: { description: 'Discretionary Investment Trust', taxEntity: 'TRUST' },
  DST: { description: 'Discretionary Services Management Trust', taxEntity: 'TRUST' },
  DTT: { description: 'Discretionary Trading Trust', taxEntity: 'TRUST' },
  FXT: { description: 'Fixed Trust', taxEntity: 'TRUST' },
  FUT: { description: 'Fixed Unit Trust', taxEntity: 'TRUST' },
  HYT: { description: 'Hybrid Trust', taxEntity: 'TRUST' },
  TRT: { description: 'Other trust', taxEntity: 'TRUST' },
  CMT: { description: 'Cash Management Trust', taxEntity: 'TRUST' },
  CUT: { description: 'Corporate Unit Trust', taxEntity: 'TRUST' },
  PTT: { description: 'Public Trading trust', taxEntity: 'TRUST' },
  PQT: { description: 'Unlisted Public Unit Trust', taxEntity: 'TRUST' },
  PUT: { description: 'Listed Public Unit Trust', taxEntity: 'TRUST' },
  FHS: { description: 'First Home Saver Accounts Trust', taxEntity: 'TRUST' },
  DES: { description: 'Deceased Estate', taxEntity: 'TRUST' },
  FPT: { description: 'Family Partnership', taxEntity: 'OTHER' },
  PTR: { description: 'Other Partnership', taxEntity: 'OTHER' },
  LPT: { description: 'Limited Partnership', taxEntity: 'OTHER' },
  OIE: { description: 'Other Incorporated Entity', taxEntity: 'OTHER' },
  UIE: { description: 'Other Unincorporated Entity', taxEntity: 'OTHER' },
  STR: { description: 'Strata-title', taxEntity: 'OTHER' },
  SUP: { description: 'Super Fund', taxEntity: 'OTHER' },
  NRF: { description: 'Non-Regulated Superannuation Fund', taxEntity: 'OTHER' },
  SAF: { description: 'Small APRA Regulated Fund', taxEntity: 'OTHER' },
  NPF: { description: 'APRA Regulated Non-Public Offer Fund', taxEntity: 'OTHER' },
  POF: { description: 'APRA Regulated Public Offer Fund', taxEntity: 'OTHER' },
  PST: { description: 'Pooled Superannuation Trust', taxEntity: 'OTHER' },
  DIP: { description: 'Diplomatic/Consulate Body or High Commissioner', taxEntity: 'OTHER' },
};

export function taxEntityFor(entityTypeCode: string): TaxEntityType {
  return ENTITY_TYPES[entityTypeCode]?.taxEntity ?? 'OTHER';
}

/** Companies that Corporations Act 2001 s201A requires directors for (proprietary ≥ 1, public ≥ 3). */
export const MIN_DIRECTORS: Readonly<Record<string, number>> = { PRV: 1, PUB: 3 };
