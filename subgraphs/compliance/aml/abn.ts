import { AmlReason, amlError } from './errors';

/**
 * ABN and ACN identifiers: normalisation and the check-digit rules the ABR and ASIC publish.
 * ABN: subtract 1 from the first digit, weight the 11 digits 10,1,3,5,7,9,11,13,15,17,19, and
 * the sum must divide by 89. ACN: weight the first 8 digits 8..1, and the ninth digit is
 * (10 − sum mod 10) mod 10.
 */

const ABN_WEIGHTS = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19] as const;
const ACN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 1] as const;

/** Strips the spaces people type ("51 824 753 556"); anything else but digits is left for validation to refuse. */
export function normaliseIdentifier(input: string): string {
  return input.replace(/\s+/g, '');
}

export function isValidAbn(input: string): boolean {
  const abn = normaliseIdentifier(input);
  if (!/^\d{11}$/.test(abn)) return false;
  if (abn.startsWith('0')) return false; // the first digit minus one must stay a digit
  const sum = ABN_WEIGHTS.reduce((acc, w, i) => acc + (Number(abn.charAt(i)) - (i === 0 ? 1 : 0)) * w, 0);
  return sum % 89 === 0;
}

export function isValidAcn(input: string): boolean {
  const acn = normaliseIdentifier(input);
  if (!/^\d{9}$/.test(acn)) return false;
  const sum = ACN_WEIGHTS.reduce((acc, w, i) => acc + w * Number(acn.charAt(i)), 0);
  return (10 - (sum % 10)) % 10 === Number(acn.charAt(8));
}

/** The 11-digit ABN, or INVALID_ABN (a typed BAD_USER_INPUT) saying why. */
export function parseAbn(input: unknown, field = 'abn'): string {
  if (typeof input !== 'string') throw amlError(AmlReason.INVALID_ABN, 'ABN must be a string of 11 digits', { field });
  const abn = normaliseIdentifier(input);
  if (!/^\d{11}$/.test(abn)) throw amlError(AmlReason.INVALID_ABN, 'ABN must be 11 digits (spaces allowed)', { field });
  if (!isValidAbn(abn)) throw amlError(AmlReason.INVALID_ABN, 'ABN fails the ABN checksum', { field });
  return abn;
}

export function parseAcn(input: unknown, field = 'acn'): string {
  if (typeof input !== 'string') throw amlError(AmlReason.INVALID_ACN, 'ACN must be a string of 9 digits', { field });
  const acn = normaliseIdentifier(input);
  if (!/^\d{9}$/.test(acn)) throw amlError(AmlReason.INVALID_ACN, 'ACN must be 9 digits (spaces allowed)', { field });
  if (!isValidAcn(acn)) throw amlError(AmlReason.INVALID_ACN, 'ACN fails the ACN check digit', { field });
  return acn;
}

/** A company's ABN is its ACN with two check digits in front (ABR: "your ABN will be your ACN with two digits at the front"). */
export function abnMatchesAcn(abn: string, acn: string): boolean {
  return normaliseIdentifier(abn).slice(2) === normaliseIdentifier(acn);
}

/** "51824753556" → "51 824 753 556", the way the ABR prints it. */
export function formatAbn(abn: string): string {
  const a = normaliseIdentifier(abn);
  return `${a.slice(0, 2)} ${a.slice(2, 5)} ${a.slice(5, 8)} ${a.slice(8, 11)}`;
}

export function formatAcn(acn: string): string {
  const a = normaliseIdentifier(acn);
  return `${a.slice(0, 3)} ${a.slice(3, 6)} ${a.slice(6, 9)}`;
}
