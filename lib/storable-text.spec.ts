import { graphql, GraphQLObjectType, GraphQLSchema, GraphQLString, GraphQLInputObjectType, GraphQLList } from 'graphql';
import { hasUnstorableText, refuseUnstorableArguments, storableJson, storableText } from './storable-text';

describe('storable text', () => {
  it('finds U+0000 and unpaired surrogates, and leaves surrogate pairs alone', () => {
    expect(['a\u0000', '\ud800', 'x\udc00y', '\ud83d', '😀\udc00'].map(hasUnstorableText)).toEqual([true, true, true, true, true]);
    expect(['', 'plain', 'café ☕', '😀', '\ud83d\ude00'].map(hasUnstorableText)).toEqual([false, false, false, false, false]);
  });

  it('replaces them with U+FFFD, one for one', () => {
    expect(storableText('a\u0000b\u0000')).toBe('a\ufffdb\ufffd');
    expect(storableText('x\ud800y😀\udfff')).toBe('x\ufffdy😀\ufffd');
    const same = 'unchanged 😀';
    expect(storableText(same)).toBe(same);
  });

  it('makes a parsed JSON document storable, keys included, and says whether it changed', () => {
    const doc = JSON.parse('{"a":"x\\u0000","k\\u0000":[1,"\\ud800",{"n":null,"b":true}],"ok":"😀"}') as unknown;
    const { value, altered } = storableJson(doc);
    expect(altered).toBe(true);
    expect(value).toEqual({ a: 'x\ufffd', 'k\ufffd': [1, '\ufffd', { n: null, b: true }], ok: '😀' });
    // PostgreSQL's jsonb parser accepts what JSON.stringify now writes.
    expect(JSON.stringify(value)).not.toMatch(/\\u0000|\\ud8/);
    const clean = { a: [1, 'two', { three: 3 }] };
    expect(storableJson(clean)).toEqual({ value: clean, altered: false });
    expect(storableJson(clean).value).toBe(clean);
  });

  describe('refuseUnstorableArguments', () => {
    const Input = new GraphQLInputObjectType({ name: 'In', fields: { name: { type: GraphQLString }, tags: { type: new GraphQLList(GraphQLString) } } });
    let calls = 0;
    const schema = refuseUnstorableArguments(
      new GraphQLSchema({
        query: new GraphQLObjectType({
          name: 'Query',
          fields: {
            echo: {
              type: GraphQLString,
              args: { s: { type: GraphQLString }, input: { type: Input } },
              resolve: (_src, args: { s?: string; input?: { name?: string } }) => {
                calls++;
                return args.s ?? args.input?.name ?? null;
              },
            },
            plain: { type: GraphQLString, args: { s: { type: GraphQLString } } },
          },
        }),
      }),
    );
    const run = (source: string, variableValues?: Record<string, unknown>) => graphql({ schema, source, variableValues, rootValue: { plain: 'root value' } });

    it('refuses them in variables, literals and nested inputs before the resolver runs', async () => {
      calls = 0;
      for (const [source, vars] of [
        ['query ($s: String) { echo(s: $s) }', { s: 'a\u0000' }],
        ['{ echo(s: "a\\u0000") }', undefined],
        ['query ($i: In) { echo(input: $i) }', { i: { tags: ['ok', '\ud800'] } }],
      ] as const) {
        const r = await run(source, vars);
        expect(r.errors?.map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
        expect(r.errors?.[0]?.message).toMatch(/^(s|input\.tags\[1\]) must not contain U\+0000/);
      }
      expect(calls).toBe(0);
    });

    it('passes ordinary strings through, to resolvers and to the default property resolver', async () => {
      expect((await run('{ echo(s: "café 😀") }')).data).toEqual({ echo: 'café 😀' });
      expect((await run('{ plain(s: "x") }')).data).toEqual({ plain: 'root value' });
    });
  });
});
