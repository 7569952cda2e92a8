/**
 * A fake ABN Lookup (Australian Business Register) JSON web service on 127.0.0.1 for tests.
 * It answers `GET /json/AbnDetails.aspx?abn=…&callback=…&guid=…` the way the register does:
 * always HTTP 200 with JSONP `callback({...})` carrying every AbnDetails field; an unregistered
 * GUID, an invalid search text and an unknown ABN come back as a `Message` with the other fields
 * blank. It knows an active company, an active sole trader, a trust, an SMSF and a cancelled ABN.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal } from './http';

export type FakeAbrRecord = {
  Abn: string;
  AbnStatus: 'Active' | 'Cancelled';
  AbnStatusEffectiveFrom: string;
  Acn: string;
  AddressDate: string | null;
  AddressPostcode: string;
  AddressState: string;
  BusinessName: string[];
  EntityName: string;
  EntityTypeCode: string;
  EntityTypeName: string;
  Gst: string | null;
};

export type FakeAbrMode =
  | 'normal'
  | 'outage' // HTTP 500 with the IIS error page, as an ASP.NET host answers when it is down
  | 'malformed' // a truncated JSONP body
  | 'hang' // accepts the request and never answers (the client's timeout must fire)
  | 'system-error'; // HTTP 200 with a Message the register gives when its back end fails

/** Valid-checksum ABNs invented for tests (not real businesses). */
export const FAKE_ABNS = {
  company: '11123456780',
  soleTrader: '53900000001',
  trust: '34900000002',
  smsf: '15900000003',
  cancelled: '85900000004',
  /** Passes the checksum but is not on the register. */
  unknown: '47900000006',
} as const;

export const FAKE_ABR_RECORDS: readonly FakeAbrRecord[] = [
  {
    Abn: FAKE_ABNS.company,
    AbnStatus: 'Active',
    AbnStatusEffectiveFrom: '2019-07-01',
    Acn: '123456780',
    AddressDate: '2023-02-14',
    AddressPostcode: '2000',
    AddressState: 'NSW',
    BusinessName: ['Demo Coffee Roasters', 'Harbour Bean Co'],
    EntityName: 'DEMO COFFEE ROASTERS PTY LTD',
    EntityTypeCode: 'PRV',
    EntityTypeName: 'Australian Private Company',
    Gst: '2019-07-01',
  },
  {
    Abn: FAKE_ABNS.soleTrader,
    AbnStatus: 'Active',
    AbnStatusEffectiveFrom: '2015-03-02',
    Acn: '',
    AddressDate: '2015-03-02',
    AddressPostcode: '4000',
    AddressState: 'QLD',
    BusinessName: ["Jane's Cakes"],
    EntityName: 'CITIZEN, JANE MARY',
    EntityTypeCode: 'IND',
    EntityTypeName: 'Individual/Sole Trader',
    Gst: null,
  },
  {
    Abn: FAKE_ABNS.trust,
    AbnStatus: 'Active',
    AbnStatusEffectiveFrom: '2012-08-20',
    Acn: '',
    AddressDate: '2020-01-10',
    AddressPostcode: '3000',
    AddressState: 'VIC',
    BusinessName: [],
    EntityName: 'THE TRUSTEE FOR THE EXAMPLE FAMILY TRUST',
    EntityTypeCode: 'DTT',
    EntityTypeName: 'Discretionary Trading Trust',
    Gst: '2012-09-01',
  },
  {
    Abn: FAKE_ABNS.smsf,
    AbnStatus: 'Active',
    AbnStatusEffectiveFrom: '2018-05-01',
    Acn: '',
    AddressDate: '2018-05-01',
    AddressPostcode: '5000',
    AddressState: 'SA',
    BusinessName: [],
    EntityName: 'THE TRUSTEE FOR EXAMPLE SUPER FUND',
    EntityTypeCode: 'SMF',
    EntityTypeName: 'ATO Regulated Self-Managed Superannuation Fund',
    Gst: null,
  },
  {
    Abn: FAKE_ABNS.cancelled,
    AbnStatus: 'Cancelled',
    AbnStatusEffectiveFrom: '2021-06-30',
    Acn: '',
    AddressDate: null,
    AddressPostcode: '6000',
    AddressState: 'WA',
    BusinessName: [],
    EntityName: 'BLOGGS, FRED',
    EntityTypeCode: 'IND',
    EntityTypeName: 'Individual/Sole Trader',
    Gst: null,
  },
];

export type FakeAbrRequest = { path: string; abn: string | null; callback: string | null; guidPresent: boolean };

export type FakeAbr = {
  url: string;
  guid: string;
  close(): Promise<void>;
  setMode(mode: FakeAbrMode): void;
  requests(): FakeAbrRequest[];
};

const BLANK = {
  Abn: '',
  AbnStatus: '',
  AbnStatusEffectiveFrom: '',
  Acn: '',
  AddressDate: null,
  AddressPostcode: '',
  AddressState: '',
  BusinessName: [],
  EntityName: '',
  EntityTypeCode: '',
  EntityTypeName: '',
  Gst: null,
};

/** The register's own ABN rule, re-implemented here so the fake does not trust the client's. */
function checksumOk(abn: string): boolean {
  if (!/^\d{11}$/.test(abn) || abn[0] === '0') return false;
  const weights = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
  const sum = weights.reduce((acc, w, i) => {
    const d = Number(abn.charAt(i));
    return acc + (i === 0 ? d - 1 : d) * w;
  }, 0);
  return sum % 89 === 0;
}

export async function startFakeAbr(opts: { guid?: string; records?: readonly FakeAbrRecord[] } = {}): Promise<FakeAbr> {
  const guid = opts.guid ?? '00000000-1111-4222-8333-444444444444';
  const byAbn = new Map((opts.records ?? FAKE_ABR_RECORDS).map((r) => [r.Abn, r]));
  let mode: FakeAbrMode = 'normal';
  const log: FakeAbrRequest[] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const q = (k: string): string | null => {
      // ASP.NET reads query keys case-insensitively.
      for (const [key, v] of u.searchParams) if (key.toLowerCase() === k) return v;
      return null;
    };
    const callback = q('callback');
    log.push({ path: u.pathname, abn: q('abn'), callback, guidPresent: q('guid') !== null });
    if (mode === 'hang') return; // never answers
    if (u.pathname.toLowerCase() !== '/json/abndetails.aspx') {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<html><body><h2>404 - File or directory not found.</h2></body></html>');
      return;
    }
    if (mode === 'outage') {
      res.writeHead(500, { 'Content-Type': 'text/html' });
      res.end('<html><body><h2>500 - Internal server error.</h2></body></html>');
      return;
    }
    const cb = callback && /^[A-Za-z_$][\w$]*$/.test(callback) ? callback : 'callback';
    const send = (payload: Record<string, unknown>): void => {
      let body = `${cb}(${JSON.stringify(payload)})`;
      if (mode === 'malformed') body = body.slice(0, Math.floor(body.length / 2));
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (mode === 'system-error') return send({ ...BLANK, Message: 'System problems have prevented this request from completing' });
    if (q('guid') !== guid) return send({ ...BLANK, Message: 'The GUID entered is not recognised as a Registered Party' });
    const abn = (q('abn') ?? '').replace(/\s+/g, '');
    if (!checksumOk(abn)) return send({ ...BLANK, Message: 'Search text is not a valid ABN or ACN' });
    const record = byAbn.get(abn);
    if (!record) return send({ ...BLANK, Abn: abn, Message: 'No record found' });
    return send({ ...record, Message: '' });
  });

  const { url, close } = await listenLocal(server);
  return { url, guid, close, setMode: (m) => (mode = m), requests: () => [...log] };
}
