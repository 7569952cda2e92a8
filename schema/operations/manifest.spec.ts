import { readFileSync } from 'node:fs';
import { parse, specifiedRules, validate, type GraphQLSchema } from 'graphql';
import { queryLimits } from '../../gateway/edge/query-limits';
import { exceedsTokens, BODY_LIMIT_DEFAULTS } from '../../gateway/edge/body';
import { MANIFEST_PATH, apiSchemaOf, buildManifest, loadManifest, readOperationSources, serializeManifest, sha256Hex } from '../../gateway/edge/manifest';
import { SUPERGRAPH_PATH } from '../compose';

describe('the partner persisted query manifest (schema/operations)', () => {
  let api: GraphQLSchema;
  beforeAll(async () => {
    api = await apiSchemaOf(readFileSync(SUPERGRAPH_PATH, 'utf8'));
  });

  it('is up to date with the .graphql files (run `node -r @swc-node/register ops/build-manifest.ts` and commit)', () => {
    expect(readFileSync(MANIFEST_PATH, 'utf8')).toBe(serializeManifest(buildManifest(readOperationSources())));
  });

  it('is in Apollo’s manifest format, each id the SHA-256 of its body', () => {
    const m = loadManifest();
    expect(m.format).toBe('apollo-persisted-query-manifest');
    expect(m.version).toBe(1);
    expect(m.operations.length).toBeGreaterThan(0);
    for (const op of m.operations) {
      expect(op.id).toBe(sha256Hex(op.body));
      expect(op.id).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(m.operations.map((o) => o.name)).size).toBe(m.operations.length);
  });

  it('has only operations that validate against the supergraph’s API schema (a breaking schema change fails here)', () => {
    const problems = loadManifest().operations.flatMap((op) =>
      validate(api, parse(op.body), specifiedRules).map((e) => `${op.name}: ${e.message}`),
    );
    expect(problems).toEqual([]);
  });

  it('has only operations within the gateway’s default query limits', () => {
    const { validationRules } = queryLimits();
    const problems = loadManifest().operations.flatMap((op) => [
      ...validate(api, parse(op.body), validationRules).map((e) => `${op.name}: ${e.message}`),
      ...(exceedsTokens(op.body, BODY_LIMIT_DEFAULTS.maxTokens) ? [`${op.name}: too many tokens`] : []),
    ]);
    expect(problems).toEqual([]);
  });

  it('refuses anonymous and duplicate operations when building', () => {
    expect(() => buildManifest([{ file: 'a.graphql', text: '{ tenant { id } }' }])).toThrow(/needs a name/);
    expect(() =>
      buildManifest([
        { file: 'a.graphql', text: 'query A { tenant { id } }' },
        { file: 'b.graphql', text: 'query A { me { id } }' },
      ]),
    ).toThrow(/defined twice/);
    expect(() => buildManifest([{ file: 'a.graphql', text: 'query A { tenant { ...Missing } }' }])).toThrow(/unknown fragment/);
  });

  it('puts each operation with exactly the fragments it uses', () => {
    const m = buildManifest([
      { file: 'a.graphql', text: 'query A { tenant { ...T } }\nquery B { me { id } }\nfragment T on Tenant { id ...U }\nfragment U on Tenant { name }' },
    ]);
    const a = m.operations.find((o) => o.name === 'A')!;
    const b = m.operations.find((o) => o.name === 'B')!;
    expect(a.body).toMatch(/fragment T on Tenant/);
    expect(a.body).toMatch(/fragment U on Tenant/);
    expect(b.body).not.toMatch(/fragment/);
  });
});
