import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalAddress, isNetwork, type Network } from './bitcoin-address';
import { AmlReason, amlError } from './errors';

/**
 * The withdrawal screening list: a CSV file (default ./screening-list.csv beside this module)
 * with the header `address,network,source,reason,added`; `#` lines and blank lines are ignored;
 * fields may be double-quoted (RFC 4180) to hold commas. Addresses are validated for their
 * network and compared in canonical form (bech32 lower-cased). Any malformed row rejects the
 * whole file, naming every bad line, so a typo can never silently unlist an address.
 */

export const SCREENING_LIST_HEADER = ['address', 'network', 'source', 'reason', 'added'] as const;
export const DEFAULT_SCREENING_LIST_PATH = join(__dirname, 'screening-list.csv');

export type ScreeningEntry = { address: string; network: Network; source: string; reason: string; added: string; line: number };
export type ScreeningList = {
  entries: readonly ScreeningEntry[];
  /** The listing for this destination, or null; the address is canonicalised first. */
  match(address: string, network: Network): ScreeningEntry | null;
};
export type ScreeningListProblem = { line: number; message: string };

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines); null when a quote is unbalanced. */
export function splitCsvLine(line: string): string[] | null {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i += 2;
        continue;
      }
      if (c === '"') {
        quoted = false;
        i++;
        if (i < line.length && line[i] !== ',') return null;
        continue;
      }
      cur += c;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else if (c === '"' && cur === '') {
      quoted = true;
    } else {
      cur += c;
    }
    i++;
  }
  if (quoted) return null;
  out.push(cur);
  return out;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const realDate = (s: string): boolean => {
  const m = DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
};

export function parseScreeningList(text: string): ScreeningList {
  const problems: ScreeningListProblem[] = [];
  const entries: ScreeningEntry[] = [];
  const seen = new Map<string, number>();
  let headerSeen = false;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const fields = splitCsvLine(raw);
    if (!fields) {
      problems.push({ line, message: 'unbalanced double quote' });
      continue;
    }
    if (!headerSeen) {
      headerSeen = true;
      if (fields.map((f) => f.trim().toLowerCase()).join(',') !== SCREENING_LIST_HEADER.join(',')) {
        problems.push({ line, message: `the first row must be the header ${SCREENING_LIST_HEADER.join(',')}` });
      }
      continue;
    }
    const [address, network, source, reason, added] = fields.map((f) => f.trim());
    if (fields.length !== SCREENING_LIST_HEADER.length || address === undefined || network === undefined || source === undefined || reason === undefined || added === undefined) {
      problems.push({ line, message: `expected ${SCREENING_LIST_HEADER.length} fields, found ${fields.length}` });
      continue;
    }
    if (!isNetwork(network)) {
      problems.push({ line, message: `unknown network "${network}" (bitcoin or bitcoin-testnet)` });
      continue;
    }
    const canonical = canonicalAddress(address, network);
    if (canonical === null) problems.push({ line, message: `"${address}" is not a valid ${network} address` });
    if (source === '') problems.push({ line, message: 'source is empty' });
    if (reason === '') problems.push({ line, message: 'reason is empty' });
    if (!realDate(added)) problems.push({ line, message: `added "${added}" is not a date YYYY-MM-DD` });
    if (canonical === null || source === '' || reason === '' || !realDate(added)) continue;
    const key = `${network}:${canonical}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({ line, message: `duplicate of line ${first}` });
      continue;
    }
    seen.set(key, line);
    entries.push({ address: canonical, network, source, reason, added, line });
  }
  if (!headerSeen) problems.push({ line: 1, message: `the file has no header row ${SCREENING_LIST_HEADER.join(',')}` });
  if (problems.length > 0) {
    throw amlError(AmlReason.INVALID_SCREENING_LIST, `screening list rejected: ${problems.map((p) => `line ${p.line}: ${p.message}`).join('; ')}`, { problems });
  }
  const index = new Map(entries.map((e) => [`${e.network}:${e.address}`, e]));
  return {
    entries,
    match(address, network) {
      const c = canonicalAddress(address, network);
      return c === null ? null : (index.get(`${network}:${c}`) ?? null);
    },
  };
}

export async function loadScreeningList(path: string = DEFAULT_SCREENING_LIST_PATH): Promise<ScreeningList> {
  return parseScreeningList(await readFile(path, 'utf8'));
}
