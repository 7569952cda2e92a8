import { gatewaySecretsFromEnv, signGatewayRequest, verifyGatewayRequest } from './gateway-signature';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const BODY = JSON.stringify({ query: '{ _service { sdl } }' });

describe('the gateway’s signature on subgraph requests', () => {
  it('verifies the body, the subgraph and the time it was signed for, under any secret of the list', () => {
    const now = Date.now();
    const sig = signGatewayRequest(A, 'tenant', BODY, now);
    expect(verifyGatewayRequest([A], 'tenant', Buffer.from(BODY), sig, now)).toBe(true);
    expect(verifyGatewayRequest([B, A], 'tenant', BODY, sig, now + 30_000)).toBe(true);
    expect(verifyGatewayRequest([A], 'treasury', BODY, sig, now)).toBe(false);
    expect(verifyGatewayRequest([A], 'tenant', `${BODY} `, sig, now)).toBe(false);
    expect(verifyGatewayRequest([B], 'tenant', BODY, sig, now)).toBe(false);
    expect(verifyGatewayRequest([A], 'tenant', BODY, sig, now + 61_000)).toBe(false);
    expect(verifyGatewayRequest([A], 'tenant', BODY, undefined, now)).toBe(false);
    expect(verifyGatewayRequest([A], 'tenant', undefined, sig, now)).toBe(false);
    expect(verifyGatewayRequest([A], 'tenant', BODY, 'garbage', now)).toBe(false);
    expect(verifyGatewayRequest([], 'tenant', BODY, sig, now)).toBe(false);
  });

  it('parses GATEWAY_SECRET lists and refuses short secrets without echoing them', () => {
    expect(gatewaySecretsFromEnv(`${A}, ${B}`)).toEqual([A, B]);
    expect(() => gatewaySecretsFromEnv('tooshort')).toThrow(/entry 1 must be at least 32/);
    expect(() => gatewaySecretsFromEnv('tooshort')).not.toThrow(/tooshort/);
    expect(() => gatewaySecretsFromEnv(' , ')).toThrow(/empty/);
  });
});
