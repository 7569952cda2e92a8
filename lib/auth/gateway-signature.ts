import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How the gateway proves a request to a subgraph is its own: an HMAC-SHA256, under a secret only
 * the gateway and the subgraphs hold (GATEWAY_SECRET), over the time, the subgraph's name and the
 * exact body. A captured signature is good for that body, that subgraph and SIGNATURE_WINDOW_MS only.
 * Header: `x-abt-gateway-signature: t=<unix ms>,v1=<hex>`.
 */
export const GATEWAY_SIGNATURE_HEADER = 'x-abt-gateway-signature';
export const SIGNATURE_WINDOW_MS = 60_000;
export const MIN_GATEWAY_SECRET_LENGTH = 32;

const mac = (secret: string, t: number, audience: string, body: string | Buffer): Buffer =>
  createHmac('sha256', secret).update(`v1.${t}.${audience}.${createHash('sha256').update(body).digest('hex')}`).digest();

export function signGatewayRequest(secret: string, audience: string, body: string, now = Date.now()): string {
  return `t=${now},v1=${mac(secret, now, audience, body).toString('hex')}`;
}

/** True when `header` is a fresh signature of `body` for `audience` under one of `secrets` (the first signs; the others verify during a rotation). */
export function verifyGatewayRequest(
  secrets: readonly string[],
  audience: string,
  body: string | Buffer | undefined,
  header: string | undefined,
  now = Date.now(),
): boolean {
  if (!header || body === undefined || secrets.length === 0) return false;
  const m = /^t=(\d{13}),v1=([0-9a-f]{64})$/.exec(header.trim());
  const [, stamp, signature] = m ?? [];
  if (stamp === undefined || signature === undefined) return false;
  const t = Number(stamp);
  if (Math.abs(now - t) > SIGNATURE_WINDOW_MS) return false;
  const given = Buffer.from(signature, 'hex');
  let ok = false;
  // Every secret is tried (no early exit), each comparison in constant time.
  for (const secret of secrets) ok = timingSafeEqual(mac(secret, t, audience, body), given) || ok;
  return ok;
}

/** `GATEWAY_SECRET=new,old`: the first signs, all verify. Errors never echo a secret. */
export function gatewaySecretsFromEnv(value: string): string[] {
  const secrets = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (secrets.length === 0) throw new Error('GATEWAY_SECRET is empty');
  secrets.forEach((s, i) => {
    if (s.length < MIN_GATEWAY_SECRET_LENGTH) throw new Error(`GATEWAY_SECRET entry ${i + 1} must be at least ${MIN_GATEWAY_SECRET_LENGTH} characters`);
  });
  return secrets;
}
