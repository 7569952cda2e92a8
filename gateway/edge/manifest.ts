import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloGateway } from '@apollo/gateway';
import { Kind, parse, print, visit, type DefinitionNode, type GraphQLSchema } from 'graphql';

/** Where partner operations live, and the manifest built from them (committed). */
export const OPERATIONS_DIR = join(__dirname, '..', '..', 'schema', 'operations');
export const MANIFEST_PATH = join(OPERATIONS_DIR, 'manifest.json');

export type ManifestOperation = { id: string; name: string; type: 'query' | 'mutation' | 'subscription'; body: string };
/** Apollo's persisted query manifest format (what `generate-persisted-query-manifest` writes). */
export type PersistedQueryManifest = { format: 'apollo-persisted-query-manifest'; version: 1; operations: ManifestOperation[] };

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** The fragments an operation uses, transitively. */
function usedFragments(op: DefinitionNode, fragments: Map<string, DefinitionNode>): DefinitionNode[] {
  const seen = new Set<string>();
  const walk = (node: DefinitionNode): void => {
    visit(node, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        if (seen.has(name)) return;
        seen.add(name);
        const frag = fragments.get(name);
        if (!frag) throw new Error(`unknown fragment ${name}`);
        walk(frag);
      },
    });
  };
  walk(op);
  return [...seen].sort().map((n) => fragments.get(n)!);
}

/**
 * One manifest entry per named operation in the given sources. A body is the operation followed by
 * the fragments it uses (sorted by name), printed by graphql-js: the exact text clients send.
 */
export function buildManifest(sources: { file: string; text: string }[]): PersistedQueryManifest {
  const docs = sources.map((s) => ({ file: s.file, doc: parse(s.text, { noLocation: true }) }));
  const fragments = new Map<string, DefinitionNode>();
  for (const { file, doc } of docs) {
    for (const d of doc.definitions) {
      if (d.kind !== Kind.FRAGMENT_DEFINITION) continue;
      if (fragments.has(d.name.value)) throw new Error(`${file}: fragment ${d.name.value} is defined twice`);
      fragments.set(d.name.value, d);
    }
  }
  const operations: ManifestOperation[] = [];
  const names = new Set<string>();
  for (const { file, doc } of docs) {
    for (const d of doc.definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) continue;
      if (d.kind !== Kind.OPERATION_DEFINITION) throw new Error(`${file}: only operations and fragments belong here`);
      const name = d.name?.value;
      if (!name) throw new Error(`${file}: every partner operation needs a name`);
      if (names.has(name)) throw new Error(`${file}: operation ${name} is defined twice`);
      names.add(name);
      const body = print({ kind: Kind.DOCUMENT, definitions: [d, ...usedFragments(d, fragments)] });
      operations.push({ id: sha256Hex(body), name, type: d.operation, body });
    }
  }
  operations.sort((a, b) => a.name.localeCompare(b.name));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

/** Reads every `*.graphql` under the operations directory (sorted, so the output is stable). */
export function readOperationSources(dir = OPERATIONS_DIR): { file: string; text: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));
}

export const serializeManifest = (m: PersistedQueryManifest): string => JSON.stringify(m, null, 2) + '\n';

/** The committed manifest; an empty one (partners can run nothing) when the file is missing. */
export function loadManifest(path = MANIFEST_PATH): PersistedQueryManifest {
  if (!existsSync(path)) return { format: 'apollo-persisted-query-manifest', version: 1, operations: [] };
  const m = JSON.parse(readFileSync(path, 'utf8')) as PersistedQueryManifest;
  if (m.format !== 'apollo-persisted-query-manifest' || m.version !== 1 || !Array.isArray(m.operations)) {
    throw new Error(`${path} is not an apollo-persisted-query-manifest v1`);
  }
  for (const op of m.operations) {
    if (sha256Hex(op.body) !== op.id) throw new Error(`${path}: operation ${op.name} has an id that is not the SHA-256 of its body`);
  }
  return m;
}

/** id → body, for lookups by hash. */
export const manifestIndex = (m: PersistedQueryManifest): Map<string, string> => new Map(m.operations.map((o) => [o.id, o.body]));

/** The API schema (what clients may query) of a supergraph, as the gateway builds it. No network. */
export async function apiSchemaOf(supergraphSdl: string): Promise<GraphQLSchema> {
  const gateway = new ApolloGateway({ supergraphSdl });
  let schema: GraphQLSchema | undefined;
  gateway.onSchemaLoadOrUpdate((s) => {
    schema = s.apiSchema;
  });
  await gateway.load();
  await gateway.stop();
  if (!schema) throw new Error('the supergraph produced no API schema');
  return schema;
}
