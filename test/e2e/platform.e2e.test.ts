import { gql } from 'graphql-request';
import { eventually } from '../helpers/db';
import { client, errorCodes, startTestPlatform, type TestPlatform } from '../helpers/platform';
import { at, present } from '../helpers/present';

const SIGN_UP = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      accessToken
      refreshToken
      user {
        id
        email
        role
      }
      tenant {
        id
        name
      }
    }
  }
`;
const LOGIN = gql`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      accessToken
      tenant {
        id
      }
    }
  }
`;
const CREATE_RULE = gql`
  mutation Create($input: TreasuryRuleInput!) {
    createTreasuryRule(input: $input) {
      id
      name
      percentageBps
      minOrderAudCents
      version
    }
  }
`;
const OVERVIEW = gql`
  query {
    me {
      tenant {
        name
        treasuryRules {
          name
        }
        auditEvents {
          eventType
        }
      }
    }
  }
`;
const PASSWORD = 'Correct-Horse-42-Battery';

type Session = { accessToken: string; refreshToken: string; user: { id: string; role: string }; tenant: { id: string; name: string } };
type Overview = { me: { tenant: { name: string; treasuryRules: { name: string }[]; auditEvents: { eventType: string }[] } } };

describe('the federated platform end to end (real PostgreSQL and Redis)', () => {
  let t: TestPlatform;
  beforeAll(async () => {
    t = await startTestPlatform({ redis: true });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const signUp = async (tenantName: string, email: string): Promise<Session> =>
    (await client(t.gateway).request<{ signUp: Session }>(SIGN_UP, { input: { tenantName, email, password: PASSWORD } })).signUp;
  const login = async (email: string): Promise<string> =>
    (await client(t.gateway).request<{ login: { accessToken: string } }>(LOGIN, { input: { email, password: PASSWORD } })).login
      .accessToken;
  const rowCount = async (sql: string): Promise<number> =>
    Number(at(await t.db.owner.em.getConnection().execute<{ n: string }[]>(sql), 0).n);

  it('signs up, logs in, creates a rule, and one query spans tenant, treasury and compliance', async () => {
    const s = await signUp('Acme Roasters', 'owner@acme.example');
    expect(s.user.role).toBe('OWNER');
    const token = await login('owner@acme.example');
    const rule = await client(t.gateway, token).request<{ createTreasuryRule: { id: string; minOrderAudCents: string; version: number } }>(
      CREATE_RULE,
      { input: { name: 'Ten percent', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 1000, minOrderAudCents: '2500' } },
    );
    expect(rule.createTreasuryRule.minOrderAudCents).toBe('2500');

    const overview = await eventually(
      () => client(t.gateway, token).request<Overview>(OVERVIEW),
      (o) => o.me.tenant.auditEvents.length >= 3,
    );
    expect(overview).toEqual({
      me: {
        tenant: {
          name: 'Acme Roasters',
          treasuryRules: [{ name: 'Ten percent' }],
          auditEvents: [{ eventType: 'tenant.signed_up' }, { eventType: 'auth.logged_in' }, { eventType: 'treasury_rule.created' }],
        },
      },
    });
  });

  it('shows another tenant only its own data through the same query', async () => {
    const b = await signUp('Bondi Bikes', 'owner@bondi.example');
    const overview = await eventually(
      () => client(t.gateway, b.accessToken).request<Overview>(OVERVIEW),
      (o) => o.me.tenant.auditEvents.length >= 1,
    );
    expect(overview).toEqual({
      me: { tenant: { name: 'Bondi Bikes', treasuryRules: [], auditEvents: [{ eventType: 'tenant.signed_up' }] } },
    });
  });

  it('answers _entities for a foreign tenant with nothing of theirs', async () => {
    const a = await signUp('Entity Co', 'owner@entity.example');
    const b = await signUp('Other Co', 'owner@other.example');
    const q = gql`
      query ($reps: [_Any!]!) {
        _entities(representations: $reps) {
          ... on Tenant {
            id
          }
        }
      }
    `;
    for (const url of [t.platform.urls.tenant!, t.platform.urls.treasury!, t.platform.urls.compliance!]) {
      const res = await client(url, a.accessToken).request<{ _entities: unknown[] }>(q, {
        reps: [{ __typename: 'Tenant', id: b.tenant.id }],
      });
      expect(res._entities).toEqual([null]);
    }
  });

  describe('bad input gets a clear code and writes nothing', () => {
    const counts = async (): Promise<number[]> => [
      await rowCount('select count(*) as n from public.tenant'),
      await rowCount('select count(*) as n from public.app_user'),
      await rowCount('select count(*) as n from pool.treasury_rule'),
      await rowCount('select count(*) as n from pool.outbox'),
    ];

    it('malformed email', async () => {
      const before = await counts();
      expect(await errorCodes(client(t.gateway).request(SIGN_UP, { input: { tenantName: 'X', email: 'not-an-email', password: PASSWORD } }))).toEqual([
        'INVALID_EMAIL',
      ]);
      expect(await counts()).toEqual(before);
    });

    it('weak password', async () => {
      const before = await counts();
      expect(await errorCodes(client(t.gateway).request(SIGN_UP, { input: { tenantName: 'X', email: 'weak@x.example', password: 'short' } }))).toEqual([
        'WEAK_PASSWORD',
      ]);
      expect(await counts()).toEqual(before);
    });

    it('duplicate sign-up, whatever the case of the email', async () => {
      await signUp('Dup One', 'dup@x.example');
      const before = await counts();
      expect(
        await errorCodes(client(t.gateway).request(SIGN_UP, { input: { tenantName: 'Dup Two', email: 'DUP@x.example', password: PASSWORD } })),
      ).toEqual(['EMAIL_TAKEN']);
      expect(await counts()).toEqual(before);
    });

    it('invalid and tampered tokens are refused at the gateway and at each subgraph', async () => {
      const s = await signUp('Token Co', 'token@x.example');
      const [h, p, sig] = s.accessToken.split('.');
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(present(p, 'JWT payload'), 'base64url').toString()), role: 'OWNER', tid: s.tenant.id, sub: 'x' })).toString('base64url')}.${sig}`;
      for (const token of ['garbage', tampered]) {
        expect(await errorCodes(client(t.gateway, token).request(OVERVIEW))).toEqual(['UNAUTHENTICATED']);
        expect(await errorCodes(client(t.platform.urls.treasury!, token).request(gql`{ treasuryRules { id } }`))).toEqual(['UNAUTHENTICATED']);
      }
      expect(await errorCodes(client(t.gateway).request(gql`{ treasuryRules { id } }`))).toEqual(['UNAUTHENTICATED']);
    });

    it('unknown rule id and another tenant’s rule id are both NOT_FOUND, and nothing changes', async () => {
      const a = await signUp('Rule Owner', 'rules@a.example');
      const b = await signUp('Rule Thief', 'rules@b.example');
      const created = await client(t.gateway, a.accessToken).request<{ createTreasuryRule: { id: string } }>(CREATE_RULE, {
        input: { name: 'Mine', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 500 },
      });
      const id = created.createTreasuryRule.id;
      const before = await counts();
      const disable = gql`
        mutation ($id: ID!) {
          disableTreasuryRule(id: $id) {
            id
          }
        }
      `;
      const del = gql`
        mutation ($id: ID!) {
          deleteTreasuryRule(id: $id)
        }
      `;
      for (const ruleId of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', id]) {
        expect(await errorCodes(client(t.gateway, b.accessToken).request(disable, { id: ruleId }))).toEqual(['NOT_FOUND']);
        expect(await errorCodes(client(t.gateway, b.accessToken).request(del, { id: ruleId }))).toEqual(['NOT_FOUND']);
      }
      const read = await client(t.gateway, b.accessToken).request<{ treasuryRule: null }>(gql`query ($id: ID!) { treasuryRule(id: $id) { id } }`, { id });
      expect(read.treasuryRule).toBeNull();
      expect(await counts()).toEqual(before);
      const still = await client(t.gateway, a.accessToken).request<{ treasuryRule: { enabled: boolean } }>(
        gql`query ($id: ID!) { treasuryRule(id: $id) { enabled } }`,
        { id },
      );
      expect(still.treasuryRule.enabled).toBe(true);
    });

    it('invalid rules and fractional or float money are refused', async () => {
      const s = await signUp('Money Co', 'money@x.example');
      const before = await counts();
      const c = client(t.gateway, s.accessToken);
      const bad = [
        { name: 'No share', type: 'PERCENTAGE_OF_REVENUE' },
        { name: 'Too much', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 10001 },
        { name: 'Bad cron', type: 'FIXED_DCA', amountAudCents: '1000', schedule: 'every tuesday' },
        { name: 'Caps', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 100, dailyCapAudCents: '5000', monthlyCapAudCents: '100' },
        { name: 'Negative', type: 'FIXED_DCA', amountAudCents: '-5', schedule: 'DAILY' },
        { name: 'Fraction', type: 'FIXED_DCA', amountAudCents: '10.5', schedule: 'DAILY' },
        { name: 'Huge', type: 'FIXED_DCA', amountAudCents: '99999999999999999999999', schedule: 'DAILY' },
        { name: '', type: 'PERCENTAGE_OF_REVENUE', percentageBps: 100 },
      ];
      for (const input of bad) {
        const codes = await errorCodes(c.request(CREATE_RULE, { input }));
        expect(codes.length).toBe(1);
        expect([input.name, codes[0]]).toEqual([input.name, 'BAD_USER_INPUT']);
      }
      const asFloat = await errorCodes(
        c.request(CREATE_RULE, { input: { name: 'Float', type: 'FIXED_DCA', amountAudCents: 10.5, schedule: 'DAILY' } }),
      );
      expect(asFloat).toEqual(['BAD_USER_INPUT']);
      expect(await counts()).toEqual(before);
    });

    it('masks internal errors: no stack, no SQL', async () => {
      const res = await fetch(t.gateway, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ me { id } ' }),
      });
      const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(at(body.errors, 0).extensions.code).toBe('GRAPHQL_PARSE_FAILED');
      expect(JSON.stringify(body)).not.toMatch(/stacktrace|at .*\.ts|select |insert /i);
    });
  });

  it('serves health, readiness (database and Redis) and metrics', async () => {
    const base = t.gateway.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    const ready = (await (await fetch(`${base}/api/ready`)).json()) as { status: string; checks: Record<string, string> };
    expect(ready).toEqual({
      status: 'ready',
      service: 'gateway',
      checks: { tenant: 'ok', treasury: 'ok', 'market-price': 'ok', compliance: 'ok', redis: 'ok' },
    });
    const sub = (await (await fetch(t.platform.urls.treasury!.replace(/\/graphql$/, '/api/ready'))).json()) as { checks: Record<string, string> };
    expect(sub.checks).toEqual({ database: 'ok', redis: 'ok' });
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/abt_graphql_requests_total/);
  });

  it('reads the simulated BTC price, labelled as such, as an exact decimal string', async () => {
    const res = await eventually(
      () => client(t.gateway).request<{ btcPrice: { price: string; source: string; currency: string } | null }>(gql`{ btcPrice(currency: AUD) { price source currency } }`),
      (r) => r.btcPrice !== null,
    );
    expect(res.btcPrice!.source).toBe('SIMULATED');
    expect(res.btcPrice!.price).toMatch(/^\d+\.\d{2}$/);
  });
});
