import { parseAbn } from './abn';
import { taxEntityFor, type TaxEntityType } from './entity-types';
import { AmlReason, amlError } from './errors';

/**
 * ABN Lookup adapter over the register's JSON web service (https://abr.business.gov.au/json/):
 * `GET /json/AbnDetails.aspx?abn=<11 digits>&callback=<name>&guid=<authentication GUID>`.
 * The register always answers HTTP 200 with JSONP `name({...})` whose fields are Abn, AbnStatus
 * ("Active" | "Cancelled"), AbnStatusEffectiveFrom, Acn, AddressDate, AddressPostcode,
 * AddressState, BusinessName (string[]), EntityName, EntityTypeCode, EntityTypeName, Gst
 * (registration date or null) and Message — empty on success, otherwise the refusal
 * ("No record found", "Search text is not a valid ABN or ACN", "The GUID entered is not
 * recognised as a Registered Party", …) with the other fields blank.
 */

export type AbnStatus = 'ACTIVE' | 'CANCELLED';

export type AbrEntity = {
  abn: string;
  /** Null only for a suppressed ABN, whose name the register does not publish. */
  legalName: string | null;
  entityTypeCode: string;
  entityTypeName: string;
  entityType: TaxEntityType;
  status: AbnStatus;
  /** YYYY-MM-DD: registered (ACTIVE) or cancelled (CANCELLED) from. */
  statusEffectiveFrom: string | null;
  acn: string | null;
  gstRegisteredFrom: string | null;
  businessNames: string[];
  addressState: string | null;
  addressPostcode: string | null;
  addressDate: string | null;
};

export type AbrClientOptions = {
  guid: string;
  /** Default https://abr.business.gov.au; tests point it at test/fakes/abr.server.ts. */
  baseUrl?: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
};

export type LookupOptions = {
  /** A cancelled ABN is CANCELLED_ABN unless the caller wants the record (e.g. to show when it ended). */
  allowCancelled?: boolean;
};

const CALLBACK = 'abnCallback';
const DATE = /^\d{4}-\d{2}-\d{2}$/;

type RawAbnDetails = Record<string, unknown>;

const unavailable = (message: string, details: Record<string, unknown> = {}): Error =>
  amlError(AmlReason.REGISTER_UNAVAILABLE, message, details);

/** `name({...})` → the object; anything else is not the register's answer. */
export function parseJsonp(body: string, callback: string): RawAbnDetails {
  const m = /^\s*([A-Za-z_$][\w$]*)\(([\s\S]*)\)\s*;?\s*$/.exec(body);
  const [, answeredCallback, json] = m ?? [];
  if (answeredCallback !== callback || json === undefined) throw unavailable('ABN Lookup answered in an unexpected format');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw unavailable('ABN Lookup answered with malformed JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw unavailable('ABN Lookup answered with malformed JSON');
  return parsed as RawAbnDetails;
}

const text = (raw: RawAbnDetails, key: string): string => {
  const v = raw[key];
  return typeof v === 'string' ? v.trim() : '';
};

const date = (raw: RawAbnDetails, key: string): string | null => {
  const v = text(raw, key);
  if (v === '') return null;
  if (!DATE.test(v)) throw unavailable(`ABN Lookup answered with a malformed ${key}`);
  return v;
};

/** Maps one AbnDetails payload to the entity, or the typed refusal its Message carries. */
export function mapAbnDetails(raw: RawAbnDetails, requestedAbn: string, opts: LookupOptions = {}): AbrEntity {
  const message = text(raw, 'Message');
  if (message !== '') {
    // Register messages are never copied into errors: some echo the GUID back.
    if (/guid/i.test(message)) throw amlError(AmlReason.INVALID_GUID, 'ABN Lookup does not recognise the configured GUID');
    if (/not a valid abn/i.test(message)) throw amlError(AmlReason.INVALID_ABN, 'ABN Lookup says this is not a valid ABN', { field: 'abn' });
    if (/no record/i.test(message)) throw amlError(AmlReason.UNKNOWN_ABN, 'no business is registered under this ABN', { abn: requestedAbn });
    throw unavailable('ABN Lookup could not complete the search');
  }
  const abn = text(raw, 'Abn');
  const statusText = text(raw, 'AbnStatus');
  if (abn === '' && statusText === '') throw amlError(AmlReason.UNKNOWN_ABN, 'no business is registered under this ABN', { abn: requestedAbn });
  if (abn !== requestedAbn) throw unavailable('ABN Lookup answered for a different ABN');
  let status: AbnStatus;
  if (statusText === 'Active') status = 'ACTIVE';
  else if (statusText === 'Cancelled') status = 'CANCELLED';
  else throw unavailable('ABN Lookup answered with an unknown AbnStatus');
  const statusEffectiveFrom = date(raw, 'AbnStatusEffectiveFrom');
  if (status === 'CANCELLED' && !opts.allowCancelled) {
    throw amlError(AmlReason.CANCELLED_ABN, 'this ABN is cancelled', { abn, cancelledFrom: statusEffectiveFrom });
  }
  const names = Array.isArray(raw.BusinessName) ? raw.BusinessName : [];
  const entityTypeCode = text(raw, 'EntityTypeCode');
  const acn = text(raw, 'Acn');
  return {
    abn,
    legalName: text(raw, 'EntityName') || null,
    entityTypeCode,
    entityTypeName: text(raw, 'EntityTypeName'),
    entityType: taxEntityFor(entityTypeCode),
    status,
    statusEffectiveFrom,
    acn: acn === '' ? null : acn,
    gstRegisteredFrom: date(raw, 'Gst'),
    businessNames: names.filter((n): n is string => typeof n === 'string' && n.trim() !== '').map((n) => n.trim()),
    addressState: text(raw, 'AddressState') || null,
    addressPostcode: text(raw, 'AddressPostcode') || null,
    addressDate: date(raw, 'AddressDate'),
  };
}

export class AbrClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: AbrClientOptions) {
    this.baseUrl = (opts.baseUrl ?? 'https://abr.business.gov.au').replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetchImpl = opts.fetchImpl ?? fetch;
  }

  /** Looks an ABN up; the checksum is checked first so a typo never reaches the register. */
  async lookupAbn(input: string, opts: LookupOptions = {}): Promise<AbrEntity> {
    const abn = parseAbn(input);
    if (!this.opts.guid.trim()) throw amlError(AmlReason.INVALID_GUID, 'no ABN Lookup GUID is configured');
    const url = `${this.baseUrl}/json/AbnDetails.aspx?${new URLSearchParams({ abn, callback: CALLBACK, guid: this.opts.guid }).toString()}`;
    let body: string;
    try {
      const res = await this.fetchImpl(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'text/javascript, application/javascript' } });
      body = await res.text();
      if (!res.ok) throw unavailable(`ABN Lookup answered HTTP ${res.status}`, { httpStatus: res.status });
    } catch (err) {
      if (err instanceof Error && err.name === 'AppError') throw err;
      // Network errors and timeouts: the URL (with the GUID) is never part of the message.
      throw unavailable(err instanceof Error && err.name === 'TimeoutError' ? 'ABN Lookup did not answer in time' : 'ABN Lookup is unreachable');
    }
    return mapAbnDetails(parseJsonp(body, CALLBACK), abn, opts);
  }
}
