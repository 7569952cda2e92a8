import { canonicalJson } from '../audit-chain';
import { formatAbn } from './abn';
import type { AuState, SmrDeadline } from './business-days';
import { AmlReason, amlError } from './errors';
import type { LegalEntityRecord } from './kyb';
import type { OperationKind, RuleHit } from './monitoring';
import { centsToAud, unitsToText } from '../../../lib/money';

/**
 * A suspicious matter report draft, laid out like AUSTRAC's SMR form (AUSTRAC Online; content
 * prescribed by AML/CTF Rules Part 9, reports of suspicious matters): the reporting entity and
 * who lodges, the suspicion (when formed, the s41(1) grounds, the narrative), the designated
 * services, the persons and organisations, the transactions, earlier reports. What the platform
 * knows is filled in; what only the compliance officer can say is a field marked
 * OFFICER_TO_COMPLETE, left empty (AUSTRAC asks for blanks, never "N/A" or "Unknown"). No tax
 * file number is ever included (Taxation Administration Act 1953 forbids it). The draft is the
 * operator's and must never be shown to the tenant (tipping off, AML/CTF Act s123).
 */

/** The limbs of AML/CTF Act s41(1) a suspicion can rest on. */
export type SuspicionGround =
  | 'IDENTITY_NOT_AS_CLAIMED'
  | 'TAX_EVASION'
  | 'OFFENCE_AGAINST_LAW'
  | 'PROCEEDS_OF_CRIME'
  | 'MONEY_LAUNDERING'
  | 'TERRORISM_FINANCING';

export type SmrValue = string | number | boolean | string[];
export type SmrField =
  | { value: SmrValue; status: 'FROM_PLATFORM' }
  | { value: null; status: 'OFFICER_TO_COMPLETE'; note: string };

const known = (value: SmrValue): SmrField => ({ value, status: 'FROM_PLATFORM' });
const officer = (note: string): SmrField => ({ value: null, status: 'OFFICER_TO_COMPLETE', note });
const maybe = (value: SmrValue | null | undefined, note: string): SmrField => (value === null || value === undefined || value === '' ? officer(note) : known(value));

export type SmrTransactionInput = {
  id: string;
  kind: OperationKind;
  at: Date;
  amountAudCents: bigint;
  sats?: bigint | null;
  exchange?: string | null;
  destinationAddress?: string | null;
  txid?: string | null;
};

export type SmrInput = {
  caseId: string;
  reportingEntity: { name: string; abn: string; austracId?: string | null; state: AuState };
  customer: LegalEntityRecord & { businessNames?: string[]; addressState?: string | null; addressPostcode?: string | null };
  suspicion: { formedAt: Date; grounds: SuspicionGround[]; terrorismFinancing: boolean };
  deadline: SmrDeadline;
  transactions: SmrTransactionInput[];
  hits: RuleHit[];
  previousReportRefs?: string[];
};

export type SmrSection = { title: string; fields: Record<string, SmrField> };
export type SmrDraft = {
  caseId: string;
  generatedAt: string;
  dueAt: string;
  basis: SmrDeadline['basis'];
  sections: {
    reportingEntity: SmrSection;
    suspicion: SmrSection;
    designatedServices: SmrSection;
    organisation: SmrSection;
    persons: SmrSection[];
    transactions: SmrSection[];
    otherParties: SmrSection;
  };
  /** The monitoring hits behind the case, for the officer's narrative; not a form section. */
  platformFacts: { rule: string; at: string; summary: string; facts: unknown }[];
};

const aud = (c: bigint): string => centsToAud(c);
const btc = (s: bigint): string => unitsToText(s, 8);

const SERVICE: Record<OperationKind, string> = {
  REVENUE: 'revenue received by the customer (source of funds; not itself a designated service)',
  REFUND: 'money refunded by the customer to its payer (a reversal of revenue; not itself a designated service)',
  PURCHASE: 'exchanging money for a virtual asset (bitcoin), arranged on the customer’s behalf',
  SALE: 'exchanging a virtual asset (bitcoin) for money, arranged on the customer’s behalf',
  WITHDRAWAL: 'transferring a virtual asset on the customer’s behalf to an external address',
};

/** Operations that move money only: no bitcoin is involved, and none is itself a designated service. */
const MONEY_ONLY: ReadonlySet<OperationKind> = new Set<OperationKind>(['REVENUE', 'REFUND']);

export function buildSmrDraft(input: SmrInput, now: Date): SmrDraft {
  if (input.suspicion.grounds.length === 0) throw amlError(AmlReason.INVALID_CASE, 'a suspicious matter needs at least one ground', { field: 'suspicion.grounds' });
  if (input.suspicion.terrorismFinancing !== (input.deadline.basis === 'TERRORISM_FINANCING_24_HOURS')) {
    throw amlError(AmlReason.INVALID_CASE, 'the deadline does not match the terrorism-financing flag', { field: 'deadline' });
  }
  const c = input.customer;
  const kinds = [...new Set(input.transactions.map((t) => t.kind))];
  const people = [
    ...c.directors.map((p) => ({ p, role: 'director', extra: {} })),
    ...c.beneficialOwners
      .filter((o) => o.isBeneficialOwner)
      .map((o) => ({ p: o, role: o.controls ? 'beneficial owner (controls)' : 'beneficial owner', extra: { ownershipPercent: known(o.ownershipBps / 100) } })),
  ];
  return {
    caseId: input.caseId,
    generatedAt: now.toISOString(),
    dueAt: input.deadline.dueAt.toISOString(),
    basis: input.deadline.basis,
    sections: {
      reportingEntity: {
        title: 'Reporting entity and lodgement',
        fields: {
          name: known(input.reportingEntity.name),
          abn: known(formatAbn(input.reportingEntity.abn)),
          austracBusinessId: maybe(input.reportingEntity.austracId, 'the operator’s AUSTRAC business/enrolment number'),
          placeOfBusinessState: known(input.reportingEntity.state),
          reportDate: officer('the date the report is given to AUSTRAC'),
          lodgerName: officer('name of the person completing the report'),
          lodgerJobTitle: officer('job title of the person completing the report'),
          lodgerPhone: officer('phone of the person completing the report'),
          lodgerEmail: officer('email of the person completing the report'),
          explainingContact: officer('another person who can explain how and why the suspicion was formed'),
        },
      },
      suspicion: {
        title: 'Details of the suspicion',
        fields: {
          suspicionFormedAt: known(input.suspicion.formedAt.toISOString()),
          grounds: known(input.suspicion.grounds),
          terrorismFinancing: known(input.suspicion.terrorismFinancing),
          reportDueBefore: known(input.deadline.dueAt.toISOString()),
          groundsNarrative: officer('why the matter is suspicious, in the officer’s words (the platform facts below are a starting point)'),
          likelyOffence: officer('the offence suspected, if any can be named'),
          reportedToOtherAgency: officer('whether and to which agency (e.g. police) the matter was also reported, and when'),
          previousReports: maybe(input.previousReportRefs ?? [], 'references of earlier SMRs about this matter, if any'),
        },
      },
      designatedServices: {
        title: 'Designated services',
        fields: {
          services: maybe(kinds.filter((k) => !MONEY_ONLY.has(k)).map((k) => SERVICE[k]), 'the designated services provided, requested or refused'),
          serviceOutcome: officer('whether each service was provided, refused, or only enquired about'),
        },
      },
      organisation: {
        title: 'Organisation (the customer)',
        fields: {
          legalName: known(c.legalName),
          abn: known(formatAbn(c.abn)),
          acn: maybe(c.acn, 'ACN/ARBN if registered with ASIC'),
          entityType: known(`${c.entityTypeCode} (${c.entityType})`),
          businessNames: maybe(c.businessNames ?? [], 'registered business names'),
          countryOfIncorporation: known(c.countryOfIncorporation),
          mainBusinessLocation: maybe([c.addressState, c.addressPostcode].filter(Boolean).join(' '), 'full business address (the register publishes state and postcode only)'),
          industry: maybe(c.industry, 'the customer’s business activity'),
          phone: officer('customer phone number'),
          email: officer('customer email address'),
        },
      },
      persons: people.map(({ p, role, extra }) => ({
        title: `Person: ${role}`,
        fields: {
          fullName: known(p.fullName),
          role: known(role),
          dateOfBirth: maybe(p.dateOfBirth, 'date of birth'),
          residentialAddress: maybe(p.residentialAddress, 'full residential address'),
          countryOfResidence: maybe(p.countryOfResidence, 'country of residence'),
          identificationDocuments: officer('identity documents or electronic sources used to verify this person'),
          occupation: officer('occupation or business activity'),
          ...extra,
        },
      })),
      transactions: input.transactions.map((t) => ({
        title: `Transaction ${t.id}`,
        fields: {
          reference: known(t.id),
          type: known(t.kind),
          dateTime: known(t.at.toISOString()),
          amountAud: known(aud(t.amountAudCents)),
          virtualAsset: known(MONEY_ONLY.has(t.kind) ? 'none' : 'BTC'),
          virtualAssetAmount: t.sats === null || t.sats === undefined ? (MONEY_ONLY.has(t.kind) ? known('0') : officer('BTC amount')) : known(btc(t.sats)),
          exchange: maybe(t.exchange, 'the exchange used'),
          destinationWalletAddress: t.kind === 'WITHDRAWAL' ? maybe(t.destinationAddress, 'destination wallet address') : known('not applicable'),
          transactionHash: t.kind === 'WITHDRAWAL' ? maybe(t.txid, 'blockchain transaction id') : known('not applicable'),
        },
      })),
      otherParties: {
        title: 'Other persons or organisations involved',
        fields: { details: officer('anyone else involved (e.g. the owner of a destination wallet), if known') },
      },
    },
    platformFacts: input.hits.map((h) => ({ rule: h.rule, at: h.at.toISOString(), summary: h.summary, facts: JSON.parse(canonicalJson(h.facts)) as unknown })),
  };
}

/** The fields the officer still has to complete, as "section.field" paths. */
export function fieldsToComplete(draft: SmrDraft): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(draft.sections)) {
    const sections = Array.isArray(s) ? s : [s];
    sections.forEach((sec, i) => {
      for (const [f, v] of Object.entries(sec.fields)) if (v.status === 'OFFICER_TO_COMPLETE') out.push(`${name}${Array.isArray(s) ? `[${i}]` : ''}.${f}`);
    });
  }
  return out;
}

export function smrDraftToJson(draft: SmrDraft): string {
  return JSON.stringify(draft, null, 2);
}

const csvCell = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** One row per field: section,field,value,status,note. */
export function smrDraftToCsv(draft: SmrDraft): string {
  const rows = [['section', 'field', 'value', 'status', 'note']];
  for (const [name, s] of Object.entries(draft.sections)) {
    const sections = Array.isArray(s) ? s : [s];
    sections.forEach((sec, i) => {
      const label = Array.isArray(s) ? `${name}[${i}]` : name;
      for (const [f, v] of Object.entries(sec.fields)) {
        const value = v.value === null ? '' : Array.isArray(v.value) ? v.value.join('; ') : String(v.value);
        rows.push([label, f, value, v.status, v.status === 'OFFICER_TO_COMPLETE' ? v.note : '']);
      }
    });
  }
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
