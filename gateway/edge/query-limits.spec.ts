import { readFileSync } from 'node:fs';
import { getIntrospectionQuery, parse, validate, type GraphQLSchema } from 'graphql';
import { SUPERGRAPH_PATH } from '../../schema/compose';
import { EdgeError } from './errors';
import { apiSchemaOf } from './manifest';
import { queryLimits } from './query-limits';

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
    e instanceof EdgeError ? e.code : String(e.extensions.code ?? 'GRAPHQL'),
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

  it('hides field suggestions only when asked', async () => {
    const run = async (hide: boolean): Promise<string> => {
      const { plugins } = queryLimits({ hideFieldSuggestions: hide });
      const errors = validate(api, parse('{ tenan { id } }'));
      for (const p of plugins) {
        const listener = await p.requestDidStart?.({} as never);
        await listener?.didEncounterErrors?.({ errors } as never);
      }
      return errors[0].message;
    };
    expect(await run(false)).toMatch(/Did you mean "tenant"/);
    expect(await run(true)).not.toMatch(/tenant"/);
  });
});
