/**
 * Typed operations for the dashboard: prints the API schema of the committed supergraph and runs
 * GraphQL Code Generator's client preset over web/src, so an operation the schema no longer accepts
 * fails here (and so `npm run typecheck` and `npm run build`), and every operation gets its
 * persisted-query id: the bare hex SHA-256 of its printed body, as the gateway's manifests use.
 *
 *   node -r @swc-node/register web/scripts/codegen.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';
import { apiSchemaOf, sha256Hex } from '../../gateway/edge/manifest';
import { GQL_DIR, SRC_DIR, SUPERGRAPH } from './paths';

/** Scalars are strings on the wire (money never becomes a float); JSON objects stay objects. */
const SCALARS = {
  AudCents: 'string',
  MinorUnits: 'string',
  Satoshis: 'string',
  Decimal: 'string',
  Int64: 'string',
  DateTimeISO: 'string',
  JSONObject: 'Record<string, unknown>',
};

export async function runCodegen(): Promise<void> {
  // ApolloGateway otherwise starts Apollo's usage telemetry, whose cloud detectors probe metadata addresses.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const schema = await apiSchemaOf(readFileSync(SUPERGRAPH, 'utf8'));
  mkdirSync(GQL_DIR, { recursive: true });
  const schemaFile = join(GQL_DIR, 'schema.graphql');
  writeFileSync(schemaFile, printSchema(schema));
  await generate(
    {
      schema: schemaFile,
      documents: [join(SRC_DIR, '**/*.{ts,tsx}'), `!${join(GQL_DIR, '**')}`],
      ignoreNoDocuments: false,
      silent: true,
      generates: {
        [GQL_DIR + '/']: {
          preset: 'client',
          presetConfig: { fragmentMasking: false, persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: sha256Hex } },
          config: { scalars: SCALARS, strictScalars: true, enumsAsTypes: true, useTypeImports: true, skipTypename: true },
        },
      },
    },
    true,
  );
}

if (require.main === module) {
  runCodegen().then(
    () => console.log('web/src/gql: typed operations generated from schema/supergraph.graphql'),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
