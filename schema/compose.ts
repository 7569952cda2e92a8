import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseGraphql, type GraphQLSchema } from 'graphql';
import { parse as parseYaml } from 'yaml';
import { buildComplianceSchema } from '../subgraphs/compliance';
import { buildMarketPriceSchema } from '../subgraphs/market-price';
import { buildTenantSchema } from '../subgraphs/tenant';
import { buildTreasurySchema } from '../subgraphs/treasury';

export const ROOT = join(__dirname, '..');
export const SUPERGRAPH_PATH = join(ROOT, 'schema', 'supergraph.graphql');

export const SUBGRAPH_BUILDERS: Record<string, () => Promise<GraphQLSchema>> = {
  tenant: buildTenantSchema,
  treasury: buildTreasurySchema,
  'market-price': buildMarketPriceSchema,
  compliance: buildComplianceSchema,
};

type RoverConfig = { federation_version: string; subgraphs: Record<string, { routing_url: string; schema: { file: string } }> };

export function readRoverConfig(): RoverConfig {
  return parseYaml(readFileSync(join(ROOT, 'rover.yaml'), 'utf8')) as RoverConfig;
}

/** Each subgraph's SDL, printed from the code that serves it. */
export async function subgraphSdls(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, build] of Object.entries(SUBGRAPH_BUILDERS)) out[name] = printSubgraphSchema(await build()) + '\n';
  return out;
}

/** Composes the subgraphs listed in rover.yaml into a supergraph SDL (what `rover supergraph compose` does). */
export async function composeSupergraph(): Promise<{ supergraph: string; subgraphs: Record<string, string> }> {
  const rover = readRoverConfig();
  const sdls = await subgraphSdls();
  const services = Object.entries(rover.subgraphs).map(([name, s]) => {
    const sdl = sdls[name];
    if (!sdl) throw new Error(`rover.yaml lists ${name}, but no such subgraph exists in code`);
    return { name, url: s.routing_url, typeDefs: parseGraphql(sdl) };
  });
  const result = composeServices(services);
  if (result.errors) throw new Error(`composition failed:\n${result.errors.map((e) => e.message).join('\n')}`);
  return { supergraph: result.supergraphSdl + '\n', subgraphs: sdls };
}
