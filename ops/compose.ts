import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, SUPERGRAPH_PATH, composeSupergraph, readRoverConfig } from '../schema/compose';

async function main(): Promise<void> {
  const { supergraph, subgraphs } = await composeSupergraph();
  for (const [name, s] of Object.entries(readRoverConfig().subgraphs)) {
    const file = join(ROOT, s.schema.file);
    mkdirSync(dirname(file), { recursive: true });
    const sdl = subgraphs[name];
    if (sdl === undefined) throw new Error(`composition returned no schema for subgraph ${name}`);
    writeFileSync(file, sdl);
  }
  writeFileSync(SUPERGRAPH_PATH, supergraph);
  process.stdout.write(`composed ${Object.keys(subgraphs).length} subgraphs into schema/supergraph.graphql\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
