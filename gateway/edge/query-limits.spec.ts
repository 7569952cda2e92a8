import { readFileSync } from 'node:fs';
import { getIntrospectionQuery, parse, validate, type GraphQLError, type GraphQLSchema } from 'graphql';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { EdgeError } from './errors';
import { apiSchemaOf } from './manifest';
import { queryLimits, queryPolicy } from './query-limits';

/** Operations the product really sends: the README's example and the end-to-end suites'. */
const REAL = {
  readme: '{ me { tenant { name treasuryRules { name } auditEvents { eventType } } } btcPrice { price source } }',
  signUp: `mutation SignUp($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken user { id email role } tenant { id name } } }`,
  createRule: `mutation Create($input: TreasuryRuleInput!) { createTreasuryRule(input: $input) { id name percentageBps minOrderAudCents version } }`,
  overview: `{ me { tenant { name treasuryRules { name } auditEvents { eventType } } } }`,
  entities: `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on Tenant { id } } }`,
  integrations: `{ paymentIntegrations { id provider name status webhookUrl } }`,
  auditPage: `{ auditEvents(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id seq eventType actorId subjectType subjectId payload createdAt prevHash hash } } } }`,
  rule: `query ($id: ID!) { treasuryRule(id: $id) { id name type enabled percentageBps amountAudCents schedule minOrderAudCents maxPerPurchaseAudCents dailyCapAudCents monthlyCapAudCents version createdAt updatedAt } }`,
  graphiqlIntrospection: getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  }),
};

const codes = (schema: GraphQLSchema, query: string, opts = {}): string[] =>
  validate(schema, parse(query), queryLimits(opts).validationRules).map((e) =>
    e instanceof EdgeError ? e.code : typeof e.extensions.code === 'string' ? e.extensions.code : 'GRAPHQL',
  );

const nestFragments = (depth: number): string => `{ ${'... on Query { '.repeat(depth - 1)}btcPrice { price }${' }'.repeat(depth - 1)} }`;

describe('graphql-armor limits as the gateway tunes them', () => {
  let api: GraphQLSchema;
  beforeAll(async () => {
    api = await apiSchemaOf(readFileSync(SUPERGRAPH_PATH, 'utf8'));
  });

  it.each(Object.entries(REAL).filter(([k]) => k !== 'entities'))('lets the real operation %s through', (_name, query) => {
    expect(codes(api, query)).toEqual([]);
  });

  it('refuses a depth-50 query (nested inline fragments, valid otherwise) with MAX_DEPTH_EXCEEDED', () => {
    expect(codes(api, nestFragments(50))).toContain('MAX_DEPTH_EXCEEDED');
    expect(codes(api, nestFragments(8))).toEqual([]);
  });

  it('refuses deep __type introspection (only __schema is exempt)', () => {
    const deep = `{ __type(name: "Query") { ${'fields { type { '.repeat(6)}name${' } }'.repeat(6)} } }`;
    expect(codes(api, deep)).toContain('MAX_DEPTH_EXCEEDED');
  });

  it('refuses too many aliases, but not __typename aliases', () => {
    const aliases = (n: number, field: string): string => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
    expect(codes(api, aliases(16, 'btcPrice { price }'))).toEqual(['MAX_ALIASES_EXCEEDED']);
    expect(codes(api, aliases(15, 'btcPrice { price }'))).toEqual([]);
    expect(codes(api, aliases(40, '__typename'))).toEqual([]);
  });

  it('refuses an expensive query with MAX_COST_EXCEEDED', () => {
    const q = `{ auditEvents(first: 1000) { edges { node { id seq eventType actorId subjectType subjectId payload createdAt prevHash hash } } } }`;
    expect(codes(api, q)).toEqual(['MAX_COST_EXCEEDED']);
  });

  it('refuses too many directives with MAX_DIRECTIVES_EXCEEDED', () => {
    const q = `{ btcPrice { price ${'@include(if: true) '.repeat(21)} } }`;
    expect(codes(api, q)).toContain('MAX_DIRECTIVES_EXCEEDED');
  });

  it('takes its limits from options', () => {
    expect(codes(api, nestFragments(5), { maxDepth: 3 })).toEqual(['MAX_DEPTH_EXCEEDED']);
    expect(codes(api, REAL.readme, { maxCost: 10 })).toEqual(['MAX_COST_EXCEEDED']);
  });

  it('the policy takes every kind of suggestion out when asked: fields, arguments, enum values, input fields', () => {
    const policy = (hide: boolean) => queryPolicy({ maxTokens: 1500, introspection: true, hideSuggestions: hide });
    const messages = (hide: boolean, query: string): string[] => {
      const out = policy(hide).check(api, query);
      return Array.isArray(out) ? out.map((e: GraphQLError) => policy(hide).formatError(e.toJSON(), e).message) : [];
    };
    const typos = [
      '{ tenan { id } }',
      '{ btcPrice(curency: AUD) { price } }',
      '{ btcPrice(currency: AUX) { price } }',
      'mutation { signUp(input: { tenantNme: "x", email: "a@b.c", password: "x" }) { accessToken } }',
      '{ btcPrice { ... on Tenant { id } } }',
    ];
    const shown = typos.flatMap((q) => messages(false, q));
    expect(shown.join('\n')).toMatch(/Did you mean "tenant"/);
    expect(shown.join('\n')).toMatch(/Did you mean the enum value "AUD"/);
    const hidden = typos.flatMap((q) => messages(true, q));
    expect(hidden.length).toBeGreaterThanOrEqual(typos.length);
    expect(hidden.filter((m) => /Did you mean/.test(m))).toEqual([]);
    expect(hidden[0]).toBe('Cannot query field "tenan" on type "Query".');
  });

  it('the policy refuses with the same codes HTTP uses: tokens before parsing, then the limits', () => {
    const policy = queryPolicy({ maxTokens: 1500, introspection: false, hideSuggestions: true });
    const codesOf = (query: string): string[] => {
      const out = policy.check(api, query);
      return Array.isArray(out) ? out.map((e: GraphQLError) => String(policy.formatError(e.toJSON(), e).extensions?.code)) : [];
    };
    const aliases = (n: number): string => `{ ${Array.from({ length: n }, (_, i) => `a${i}: btcPrice { price }`).join(' ')} }`;
    expect(codesOf(aliases(1600))).toEqual(['MAX_TOKENS_EXCEEDED']);
    expect(codesOf(aliases(16))).toEqual(['MAX_ALIASES_EXCEEDED']);
    expect(codesOf(nestFragments(50))).toContain('MAX_DEPTH_EXCEEDED');
    expect(codesOf(REAL.graphiqlIntrospection)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(codesOf('{ btcPrice { ')).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(codesOf(REAL.readme)).toEqual([]);
  });
});
