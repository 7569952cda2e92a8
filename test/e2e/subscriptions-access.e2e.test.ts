import { randomUUID } from 'node:crypto';
import type { PurchaseUpdatedEvent } from '../../lib/events';
import { readFileSync } from 'node:fs';
import { createClient, type Client } from 'graphql-ws';
import { gql } from 'graphql-request';
import WebSocket from 'ws';
import { startGateway, type Gateway } from '../../gateway/gateway';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { client, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { waitFor } from '../helpers/wait';

/**
 * A WebSocket is judged like an HTTP request, not only when it opens: a member who is removed, logs
 * out or changes role stops receiving the tenant's live events within the re-verification window.
 */
const PASSWORD = 'Correct-Horse-42-Battery';
const SESSION = 'accessToken refreshToken user { id role } tenant { id }';
const SIGN_UP = gql`mutation ($input: SignUpInput!) { signUp(input: $input) { ${SESSION} } }`;
const INVITE = gql`mutation ($email: String!, $role: Role!) { inviteUser(email: $email, role: $role) { token } }`;
const ACCEPT = gql`mutation ($token: String!, $password: String) { acceptInvite(token: $token, password: $password) { ${SESSION} } }`;
const REMOVE = gql`mutation ($userId: ID!) { removeMember(userId: $userId) }`;
const LOGOUT = gql`mutation ($t: String!) { logout(refreshToken: $t) }`;
const CHANGE_ROLE = gql`mutation ($userId: ID!, $role: Role!) { changeMemberRole(userId: $userId, role: $role) { role } }`;
const CREATE_KEY = gql`mutation ($i: CreateApiKeyInput!) { createApiKey(input: $i) { key apiKey { id } } }`;
const REVOKE_KEY = gql`mutation ($id: ID!) { revokeApiKey(id: $id) { id } }`;
const PURCHASES = 'subscription { purchaseUpdated { purchaseId status } }';

type Session = { accessToken: string; refreshToken: string; user: { id: string; role: string }; tenant: { id: string } };
type Update = { purchaseUpdated: { purchaseId: string; status: string } };
type Stream = { values: { data?: Update }[]; ended: Promise<unknown> };

/** Re-verification interval for the gateway under test (production default: 5 s). */
const RECHECK_MS = 300;
/** The window a test allows: a few re-verifications. */
const WINDOW_MS = 5_000;

describe('WebSocket subscriptions are re-verified like HTTP requests', () => {
  let t: TestPlatform;
  let gw: Gateway;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await startTestPlatform();
    gw = await startGateway({
      host: '127.0.0.1',
      port: 0,
      supergraphSdl: readFileSync(SUPERGRAPH_PATH, 'utf8'),
      subgraphUrls: {
        tenant: t.platform.urls.tenant!,
        treasury: t.platform.urls.treasury!,
        'market-price': t.platform.urls['market-price']!,
        compliance: t.platform.urls.compliance!,
      },
      jwtSecret: t.platform.jwtSecret,
      bus: t.platform.bus,
      subscriptions: { credentialRecheckMs: RECHECK_MS },
    });
  });
  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map(async (c) => {
        await c.dispose();
      }),
    );
    await waitFor(() => gw.subscriptions!.stats().subscribers === 0, 'subscriptions to end');
  });
  afterAll(async () => {
    await gw?.close();
    await t?.stop();
  });

  const http = (token?: string) => client(`${gw.url}/graphql`, token);
  const join = async (owner: Session, role: string): Promise<Session> => {
    const email = `member-${randomUUID().slice(0, 8)}@ws.example`;
    const invite = (await http(owner.accessToken).request<{ inviteUser: { token: string } }>(INVITE, { email, role })).inviteUser.token;
    return (await http().request<{ acceptInvite: Session }>(ACCEPT, { token: invite, password: PASSWORD })).acceptInvite;
  };
  const team = async (role: string): Promise<{ owner: Session; member: Session }> => {
    const tag = randomUUID().slice(0, 8);
    const owner = (await http().request<{ signUp: Session }>(SIGN_UP, { input: { tenantName: `WS ${tag}`, email: `owner-${tag}@ws.example`, password: PASSWORD } }))
      .signUp;
    return { owner, member: await join(owner, role) };
  };
  const connect = (token: string): Client => {
    const c = createClient({
      url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: token.startsWith('Bearer ') ? token : `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      // The close is what these tests expect; graphql-ws would log it.
      onNonLazyError: () => undefined,
    });
    clients.push(c);
    return c;
  };
  const stream = (c: Client): Stream => {
    const values: { data?: Update }[] = [];
    let end: (v: unknown) => void = () => undefined;
    const ended = new Promise<unknown>((resolve) => (end = resolve));
    c.subscribe<Update>({ query: PURCHASES }, { next: (r) => void values.push(r as { data?: Update }), error: (e) => end(e), complete: () => end('complete') });
    return { values, ended };
  };
  /** A purchase transition as treasury publishes it, on the tenant's channel. */
  const publish = (tenantId: string, status: PurchaseUpdatedEvent['status']): Promise<string> => {
    const purchaseId = randomUUID();
    return t.platform.bus
      .publish(`tenant.${tenantId}.purchase`, { __typename: 'PurchaseUpdated', version: 1, tenantId, purchaseId, status, previousStatus: null, at: new Date().toISOString() })
      .then(() => purchaseId);
  };
  const closeOf = (e: unknown): { code: number; reason: string } => {
    const { code, reason } = e as { code: number; reason: string };
    return { code, reason };
  };
  const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
    Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))]);

  /** Both subscribed and both receiving; returns their streams. */
  const bothLive = async (owner: Session, member: Session): Promise<[Stream, Stream]> => {
    const [o, m] = [stream(connect(owner.accessToken)), stream(connect(member.accessToken))];
    await waitFor(() => gw.subscriptions!.stats().subscribers === 2, 'both subscribed');
    const first = await publish(owner.tenant.id, 'PENDING');
    await waitFor(() => o.values.length === 1 && m.values.length === 1, 'the first event on both');
    expect(m.values).toEqual([{ data: { purchaseUpdated: { purchaseId: first, status: 'PENDING' } } }]);
    return [o, m];
  };

  /** After the member's socket ended: a later event reaches the owner and not the member. */
  const nothingMoreFor = async (owner: Stream, member: Stream, tenantId: string): Promise<void> => {
    const seen = member.values.length;
    const later = await publish(tenantId, 'SUBMITTED');
    await waitFor(() => owner.values.some((v) => v.data?.purchaseUpdated.purchaseId === later), 'the later event for the owner');
    await new Promise((r) => setTimeout(r, 2 * RECHECK_MS));
    expect(member.values.length).toBe(seen);
  };

  it('a removed member’s subscriptions end (4401) within the window and no further event reaches them', async () => {
    const { owner, member } = await team('USER');
    const [o, m] = await bothLive(owner, member);
    const removedAt = Date.now();
    await http(owner.accessToken).request(REMOVE, { userId: member.user.id });
    const closed = closeOf(await within(m.ended, WINDOW_MS, 'the removed member’s socket closing'));
    // Removal revokes the member's sessions in the tenant and the membership: either refusal ends it.
    expect(closed).toEqual({ code: 4401, reason: expect.stringMatching(/^Unauthorized: (membership no longer exists|session has been logged out|user not found)$/) });
    expect(Date.now() - removedAt).toBeLessThan(WINDOW_MS);
    await nothingMoreFor(o, m, owner.tenant.id);
  });

  it('a member who logs out stops receiving (4401) within the window', async () => {
    const { owner, member } = await team('USER');
    const [o, m] = await bothLive(owner, member);
    await http().request(LOGOUT, { t: member.refreshToken });
    const closed = closeOf(await within(m.ended, WINDOW_MS, 'the logged-out member’s socket closing'));
    expect(closed).toEqual({ code: 4401, reason: 'Unauthorized: session has been logged out' });
    await nothingMoreFor(o, m, owner.tenant.id);
  });

  it('refuses at connect a token that still has a valid signature but whose member was removed', async () => {
    const { owner, member } = await team('VIEWER');
    await http(owner.accessToken).request(REMOVE, { userId: member.user.id });
    expect(closeOf(await stream(connect(member.accessToken)).ended)).toEqual({
      code: 4401,
      reason: expect.stringMatching(/^Unauthorized: (membership no longer exists|session has been logged out|user not found)$/),
    });
  });

  it('a role change ends the old-role connection (4403, retryable) and a reconnect runs with the member’s own current role', async () => {
    const { owner, member } = await team('ADMIN');
    const viewer = await join(owner, 'VIEWER');
    const [, m] = await bothLive(owner, member);
    stream(connect(viewer.accessToken));
    await waitFor(() => gw.subscriptions!.stats().subscribers === 3, 'the viewer subscribed');
    // A group per role (OWNER, ADMIN, VIEWER): its follow-ups run with one member's credential.
    expect(gw.subscriptions!.stats().groups).toBe(3);
    await http(owner.accessToken).request(CHANGE_ROLE, { userId: member.user.id, role: 'VIEWER' });
    expect(closeOf(await within(m.ended, WINDOW_MS, 'the demoted member’s socket closing'))).toEqual({
      code: 4403,
      reason: 'Forbidden: your role changed; reconnect',
    });
    await waitFor(() => gw.subscriptions!.stats().subscribers === 2, 'the old-role subscription to be released');
    const again = stream(connect(member.accessToken));
    await waitFor(() => gw.subscriptions!.stats().subscribers === 3, 'the demoted member back');
    // Now grouped with the other VIEWER, by its own current role, no longer with ADMIN rights.
    expect(gw.subscriptions!.stats().groups).toBe(2);
    const id = await publish(owner.tenant.id, 'FILLED');
    await waitFor(() => again.values.length === 1, 'the event for the reconnected member');
    expect(again.values).toEqual([{ data: { purchaseUpdated: { purchaseId: id, status: 'FILLED' } } }]);
  });

  it('a partner key revoked while subscribed stops receiving (4401) within the window, not after its 5-minute session', async () => {
    const { owner, member } = await team('VIEWER');
    const created = (
      await http(owner.accessToken).request<{ createApiKey: { key: string; apiKey: { id: string } } }>(CREATE_KEY, { i: { name: 'ws partner', scopes: ['read:treasury'] } })
    ).createApiKey;
    const [o, k] = await bothLive(owner, { ...member, accessToken: created.key });
    await http(owner.accessToken).request(REVOKE_KEY, { id: created.apiKey.id });
    expect(closeOf(await within(k.ended, WINDOW_MS, 'the revoked key’s socket closing'))).toEqual({
      code: 4401,
      reason: expect.stringMatching(/^Unauthorized: /),
    });
    await nothingMoreFor(o, k, owner.tenant.id);
  });
});
