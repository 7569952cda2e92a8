import fc from 'fast-check';
import { at } from '../../../test/helpers/present';
import {
  DAY_MS,
  DEFAULT_DESTINATION_POLICY,
  assertUsable,
  changeDestination,
  confirmDestination,
  createDestination,
  disableDestination,
  markAddressFunded,
  reenableDestination,
  reserveWithdrawalAddress,
  usability,
  type Destination,
} from './destinations';
import type { Member } from './member';
import { withdrawalReasonOf } from './withdrawal-errors';

const reason = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return withdrawalReasonOf(e) ?? `untyped: ${String(e)}`;
  }
  return undefined;
};

const alice: Member = { userId: 'alice', role: 'OWNER', amr: ['pwd', 'otp'] };
const bob: Member = { userId: 'bob', role: 'ADMIN', amr: ['pwd', 'otp'] };
const carol: Member = { userId: 'carol', role: 'ADMIN', amr: ['pwd', 'otp'] };
const ZPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';
const ADDR = 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu';

/** A clock the test moves by hand. */
class MovedClock {
  constructor(private t: number) {}
  now = (): Date => new Date(this.t);
  advance(ms: number): void {
    this.t += ms;
  }
}

const t0 = Date.parse('2026-03-02T09:00:00Z');

describe('cooling-off and confirmation with a moved clock', () => {
  it('usable only once confirmed by a second member AND 24 h after creation', () => {
    const clock = new MovedClock(t0);
    let d = createDestination({ id: 'd1', label: 'Cold storage', kind: 'ADDRESS', value: ADDR.toUpperCase(), network: 'mainnet' }, alice, clock.now()).destination;
    expect(d).toMatchObject({ status: 'PENDING_CONFIRMATION', value: ADDR, addressType: 'P2WPKH', createdBy: 'alice' });
    expect(usability(d, clock.now())).toEqual({ usable: false, reason: 'NOT_CONFIRMED', coolingOffEndsAt: new Date(t0 + DAY_MS) });

    clock.advance(60 * 60 * 1000);
    d = confirmDestination(d, bob, clock.now()).destination;
    expect(reason(() => assertUsable(d, clock.now()))).toBe('COOLING_OFF');

    clock.advance(DAY_MS - 60 * 60 * 1000 - 1); // 1 ms before the end
    expect(usability(d, clock.now())).toMatchObject({ usable: false, reason: 'COOLING_OFF' });
    clock.advance(1);
    expect(usability(d, clock.now())).toEqual({ usable: true, usableSince: new Date(t0 + DAY_MS) });
    expect(reserveWithdrawalAddress(d, clock.now()).reservation).toEqual({ address: ADDR, type: 'P2WPKH', index: null, path: null });
  });

  it('a late confirmation makes it usable at confirmation time, not before', () => {
    const clock = new MovedClock(t0);
    let d = createDestination({ id: 'd1', label: 'Cold', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, alice, clock.now()).destination;
    clock.advance(3 * DAY_MS);
    expect(usability(d, clock.now())).toMatchObject({ usable: false, reason: 'NOT_CONFIRMED' });
    d = confirmDestination(d, bob, clock.now()).destination;
    expect(usability(d, clock.now())).toEqual({ usable: true, usableSince: new Date(t0 + 3 * DAY_MS) });
  });

  it('a change restarts the cooling-off and needs a new confirmation', () => {
    const clock = new MovedClock(t0);
    let d = createDestination({ id: 'd1', label: 'Cold', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, alice, clock.now()).destination;
    d = confirmDestination(d, bob, clock.now()).destination;
    clock.advance(2 * DAY_MS);
    expect(usability(d, clock.now()).usable).toBe(true);
    const change = changeDestination(d, { value: '36j4NfKv6Akva9amjWrLG6MuSQym1GuEmm' }, carol, clock.now());
    d = change.destination;
    expect(change.event).toMatchObject({ type: 'CHANGED', actorId: 'carol', details: { changed: 'value' } });
    expect(d).toMatchObject({ status: 'PENDING_CONFIRMATION', changedBy: 'carol', confirmedBy: null, addressType: 'P2SH', version: 3 });
    expect(reason(() => assertUsable(d, clock.now()))).toBe('NOT_CONFIRMED');
    // carol changed it, so she cannot confirm it; bob can
    expect(reason(() => confirmDestination(d, carol, clock.now()))).toBe('SELF_CONFIRMATION');
    d = confirmDestination(d, bob, clock.now()).destination;
    expect(reason(() => assertUsable(d, clock.now()))).toBe('COOLING_OFF');
    clock.advance(DAY_MS);
    expect(usability(d, clock.now()).usable).toBe(true);
  });

  it('even a label-only change restarts the cooling-off', () => {
    const clock = new MovedClock(t0);
    let d = createDestination({ id: 'd1', label: 'Cold', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, alice, clock.now()).destination;
    d = confirmDestination(d, bob, clock.now()).destination;
    clock.advance(2 * DAY_MS);
    d = changeDestination(d, { label: 'Cold storage (safe)' }, alice, clock.now()).destination;
    expect(usability(d, clock.now())).toMatchObject({ usable: false, reason: 'NOT_CONFIRMED', coolingOffEndsAt: new Date(t0 + 3 * DAY_MS) });
    expect(reason(() => changeDestination(d, { label: 'Cold storage (safe)' }, alice, clock.now()))).toBe('INVALID_DESTINATION');
  });

  it('the cooling-off is configurable', () => {
    const policy = { ...DEFAULT_DESTINATION_POLICY, coolingOffMs: 60_000 };
    let d = createDestination({ id: 'd1', label: 'Cold', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, alice, new Date(t0), policy).destination;
    d = confirmDestination(d, bob, new Date(t0), policy).destination;
    expect(usability(d, new Date(t0 + 59_999), policy).usable).toBe(false);
    expect(usability(d, new Date(t0 + 60_000), policy).usable).toBe(true);
    expect(reason(() => usability(d, new Date(t0), { ...policy, coolingOffMs: -1 }))).toBe('INVALID_POLICY');
    expect(reason(() => usability(d, new Date(Number.NaN)))).toBe('INVALID_CLOCK');
  });

  it('disabled is never usable; re-enabling restarts confirmation and cooling-off', () => {
    const clock = new MovedClock(t0);
    let d = createDestination({ id: 'd1', label: 'Cold', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, alice, clock.now()).destination;
    d = confirmDestination(d, bob, clock.now()).destination;
    clock.advance(2 * DAY_MS);
    d = disableDestination(d, bob, clock.now()).destination;
    expect(reason(() => assertUsable(d, clock.now()))).toBe('DESTINATION_DISABLED');
    expect(reason(() => confirmDestination(d, carol, clock.now()))).toBe('DESTINATION_DISABLED');
    expect(reason(() => changeDestination(d, { label: 'x' }, alice, clock.now()))).toBe('DESTINATION_DISABLED');
    expect(reason(() => disableDestination(d, alice, clock.now()))).toBe('INVALID_TRANSITION');
    d = reenableDestination(d, alice, clock.now()).destination;
    expect(d.status).toBe('PENDING_CONFIRMATION');
    d = confirmDestination(d, bob, clock.now()).destination;
    expect(reason(() => assertUsable(d, clock.now()))).toBe('COOLING_OFF');
  });
});

describe('who may confirm', () => {
  const fresh = (): Destination =>
    createDestination({ id: 'd1', label: 'Cold', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, alice, new Date(t0)).destination;

  it('the creator cannot confirm their own destination', () => {
    expect(reason(() => confirmDestination(fresh(), alice, new Date(t0)))).toBe('SELF_CONFIRMATION');
  });
  it('a role outside confirmerRoles is refused (USER, VIEWER)', () => {
    expect(reason(() => confirmDestination(fresh(), { userId: 'u', role: 'USER', amr: ['pwd', 'otp'] }, new Date(t0)))).toBe('ROLE_NOT_ALLOWED');
    expect(reason(() => confirmDestination(fresh(), { userId: 'v', role: 'VIEWER', amr: ['pwd', 'otp'] }, new Date(t0)))).toBe('ROLE_NOT_ALLOWED');
  });
  it('a session without a second factor is refused with MFA_REQUIRED', () => {
    let err: unknown;
    try {
      confirmDestination(fresh(), { ...bob, amr: ['pwd'] }, new Date(t0));
    } catch (e) {
      err = e;
    }
    expect(withdrawalReasonOf(err)).toBe('MFA_REQUIRED');
    expect((err as { extensions: { code: string } }).extensions.code).toBe('MFA_REQUIRED');
  });
  it('confirming twice is an INVALID_TRANSITION', () => {
    const d = confirmDestination(fresh(), bob, new Date(t0)).destination;
    expect(reason(() => confirmDestination(d, carol, new Date(t0)))).toBe('INVALID_TRANSITION');
  });
  it('only managers add, change or disable', () => {
    const user: Member = { userId: 'u', role: 'USER', amr: ['pwd', 'otp'] };
    expect(reason(() => createDestination({ id: 'd1', label: 'x', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, user, new Date(t0)))).toBe('ROLE_NOT_ALLOWED');
    expect(reason(() => disableDestination(fresh(), user, new Date(t0)))).toBe('ROLE_NOT_ALLOWED');
  });
});

describe('bad input is typed and creates nothing', () => {
  it.each([
    [{ id: 'd1', label: 'x', kind: 'ADDRESS', value: ADDR.slice(0, -1) + 'q', network: 'mainnet' }, 'BAD_CHECKSUM'],
    [{ id: 'd1', label: 'x', kind: 'ADDRESS', value: ADDR, network: 'testnet' }, 'WRONG_NETWORK'],
    [{ id: 'd1', label: 'x', kind: 'XPUB', value: ADDR, network: 'mainnet' }, 'MALFORMED'],
    [{ id: 'd1', label: 'x', kind: 'ADDRESS', value: ZPUB, network: 'mainnet' }, 'UNSUPPORTED_TYPE'],
    [{ id: 'd1', label: '', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, 'INVALID_DESTINATION'],
    [{ id: 'd 1', label: 'x', kind: 'ADDRESS', value: ADDR, network: 'mainnet' }, 'INVALID_DESTINATION'],
    [{ id: 'd1', label: 'x', kind: 'IBAN', value: ADDR, network: 'mainnet' }, 'INVALID_DESTINATION'],
    [{ id: 'd1', label: 'x', kind: 'ADDRESS', value: ADDR, network: 'mainnet', scriptType: 'P2WPKH' }, 'INVALID_DESTINATION'],
    [{ id: 'd1', label: 'x', kind: 'XPUB', value: ZPUB, network: 'mainnet', scriptType: 'P2PKH' }, 'SCRIPT_TYPE_MISMATCH'],
  ])('%j → %s', (input, expected) => {
    expect(reason(() => createDestination(input as never, alice, new Date(t0)))).toBe(expected);
  });
});

describe('XPUB destinations: a fresh address per withdrawal, never reused', () => {
  const usableXpub = (policy = DEFAULT_DESTINATION_POLICY): Destination => {
    let d = createDestination({ id: 'x1', label: 'Hardware wallet', kind: 'XPUB', value: ZPUB, network: 'mainnet' }, alice, new Date(t0), policy).destination;
    d = confirmDestination(d, bob, new Date(t0), policy).destination;
    return d;
  };
  const later = new Date(t0 + 2 * DAY_MS);

  it('hands out BIP 84 0/0, 0/1, … in order', () => {
    let d = usableXpub();
    const a = reserveWithdrawalAddress(d, later);
    expect(a.reservation).toEqual({ address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', type: 'P2WPKH', index: 0, path: '0/0' });
    expect(a.event).toMatchObject({ type: 'ADDRESS_RESERVED', details: { index: 0 } });
    d = a.destination;
    expect(reserveWithdrawalAddress(d, later).reservation.address).toBe('bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g');
  });

  it('refuses before the cooling-off ends', () => {
    expect(reason(() => reserveWithdrawalAddress(usableXpub(), new Date(t0 + 1000)))).toBe('COOLING_OFF');
  });

  it('stops at the gap limit until an address is paid', () => {
    const policy = { ...DEFAULT_DESTINATION_POLICY, gapLimit: 3 };
    let d = usableXpub(policy);
    for (let i = 0; i < 3; i++) d = reserveWithdrawalAddress(d, later, policy).destination;
    expect(reason(() => reserveWithdrawalAddress(d, later, policy))).toBe('GAP_LIMIT_REACHED');
    d = markAddressFunded(d, 1, later).destination;
    expect(reserveWithdrawalAddress(d, later, policy).reservation.index).toBe(3);
    expect(reason(() => markAddressFunded(d, 99, later))).toBe('INVALID_DERIVATION_INDEX');
  });

  it('a new key restarts derivation at 0; the old key’s indexes are not reused for it', () => {
    let d = usableXpub();
    d = reserveWithdrawalAddress(d, later).destination;
    const tpubLike = 'ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP';
    d = changeDestination(d, { value: tpubLike }, alice, later).destination;
    expect(d).toMatchObject({ scriptType: 'P2SH_P2WPKH', derivation: { nextIndex: 0, lastFundedIndex: -1 } });
  });

  it('indexes handed out are strictly increasing and never repeat, whatever happens in between (property)', () => {
    type Op = { kind: 'reserve' } | { kind: 'fund'; pick: number } | { kind: 'label'; n: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant({ kind: 'reserve' as const }),
      fc.record({ kind: fc.constant('fund' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('label' as const), n: fc.nat({ max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const policy = { ...DEFAULT_DESTINATION_POLICY, gapLimit: 5 };
        let d = usableXpub(policy);
        let t = later.getTime();
        const handedOut: number[] = [];
        for (const o of ops) {
          if (o.kind === 'reserve') {
            try {
              const r = reserveWithdrawalAddress(d, new Date(t), policy);
              d = r.destination;
              handedOut.push(r.reservation.index as number);
            } catch (e) {
              expect(withdrawalReasonOf(e)).toBe('GAP_LIMIT_REACHED');
            }
          } else if (o.kind === 'fund' && handedOut.length > 0) {
            d = markAddressFunded(d, at(handedOut, o.pick % handedOut.length), new Date(t)).destination;
          } else if (o.kind === 'label') {
            // a label change needs reconfirmation and a new cooling-off; the derivation state survives it
            d = changeDestination(d, { label: `Wallet ${o.n}-${d.version}` }, alice, new Date(t), policy).destination;
            d = confirmDestination(d, bob, new Date(t), policy).destination;
            t += DAY_MS;
          }
        }
        expect(handedOut).toEqual([...handedOut].sort((a, b) => a - b));
        expect(new Set(handedOut).size).toBe(handedOut.length);
        expect(d.derivation?.nextIndex).toBe(handedOut.length);
      }),
    );
  });
});
