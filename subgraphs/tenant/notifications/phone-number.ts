/**
 * SMS numbers (#12) in E.164: "+" then the country code and subscriber number, at most 15 digits,
 * no leading zero after the "+" (ITU-T E.164; what Twilio's `To` and `From` take). A member may type
 * spaces, hyphens, dots or brackets between digits; those are dropped, nothing else is guessed (no
 * national "04…" numbers without the country code: which country would be a guess).
 */
export const E164 = /^\+[1-9]\d{1,14}$/;

export const isE164 = (s: string): boolean => E164.test(s);

/** The number in E.164, or null when it is not one (after dropping the separators a person types). */
export function normaliseE164(input: string): string | null {
  const trimmed = input.trim();
  if (trimmed.length > 32) return null;
  const compact = trimmed.replace(/[\s().-]/g, '');
  return isE164(compact) ? compact : null;
}

/** A number for showing back to its owner without spelling it out in full: "+61 ••• ••• 678". */
export function maskE164(e164: string): string {
  if (!isE164(e164)) return '(hidden)';
  return `${e164.slice(0, 3)} ••• ••• ${e164.slice(-3)}`;
}
