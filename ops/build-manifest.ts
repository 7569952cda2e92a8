/**
 * Builds schema/operations/manifest.json (Apollo's persisted query manifest format) from the
 * partner operations in schema/operations/*.graphql. Run after editing them and commit both;
 * CI (schema/operations/manifest.spec.ts) fails when the manifest is stale or an operation no
 * longer validates against the supergraph.
 *
 *   node -r @swc-node/register ops/build-manifest.ts           # write
 *   node -r @swc-node/register ops/build-manifest.ts --check   # exit 1 when stale
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { MANIFEST_PATH, buildManifest, readOperationSources, serializeManifest } from '../gateway/edge/manifest';

function main(): void {
  const manifest = serializeManifest(buildManifest(readOperationSources()));
  const current = existsSync(MANIFEST_PATH) ? readFileSync(MANIFEST_PATH, 'utf8') : undefined;
  const where = relative(process.cwd(), MANIFEST_PATH);
  if (process.argv.includes('--check')) {
    if (current !== manifest) {
      console.error(`${where} is stale: run node -r @swc-node/register ops/build-manifest.ts and commit it`);
      process.exit(1);
    }
    console.log(`${where} is up to date`);
    return;
  }
  writeFileSync(MANIFEST_PATH, manifest);
  const count = (JSON.parse(manifest) as { operations: unknown[] }).operations.length;
  console.log(`${where}: ${count} operations${current === manifest ? ' (unchanged)' : ''}`);
}

main();
