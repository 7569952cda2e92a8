/**
 * The dashboard's first-load JavaScript, compressed, against its budget (300 KB). Builds web/dist
 * first when it is stale. Counts what a signed-in owner's first visit downloads before the overview
 * is complete: the entry chunk, everything it imports statically, and the chart chunk the overview
 * loads at once. Prints gzip and brotli sizes per chunk; exits 1 over budget.
 *
 *   node -r @swc-node/register web/scripts/budget.ts     (npm run bench:web)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { ensureDashboardBuilt } from './build';
import { DIST_DIR } from './paths';

export const BUDGET_BYTES = 300 * 1024;

// Vite's .vite/manifest.json, decoded rather than cast: only the fields this script reads.
const ManifestSchema = z.record(
  z.string(),
  z.object({ file: z.string(), isEntry: z.boolean().optional(), imports: z.array(z.string()).optional() }),
);
type Manifest = z.infer<typeof ManifestSchema>;
type Chunk = Manifest[string];

function chunk(m: Manifest, key: string): Chunk {
  const c = m[key];
  if (!c) throw new Error(`${key} is not a chunk in the Vite manifest`);
  return c;
}

/** The entry chunk and its static imports, transitively (what index.html loads and preloads). */
function initialChunks(m: Manifest): string[] {
  const entry = Object.entries(m).find(([, c]) => c.isEntry);
  if (!entry) throw new Error('no entry chunk in the Vite manifest');
  const seen = new Set<string>();
  const walk = (key: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const i of m[key]?.imports ?? []) walk(i);
  };
  walk(entry[0]);
  return [...seen];
}

/** Chunks the overview (the first signed-in screen) imports lazily as soon as it renders. */
const OVERVIEW_LAZY = ['src/components/holdings-chart.tsx'];

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;

async function main(): Promise<void> {
  await ensureDashboardBuilt();
  const m = ManifestSchema.parse(JSON.parse(readFileSync(join(DIST_DIR, '.vite', 'manifest.json'), 'utf8')));
  const keys = new Set(initialChunks(m));
  for (const k of OVERVIEW_LAZY) {
    const lazy = m[k];
    if (!lazy) throw new Error(`${k} is not a chunk any more: update OVERVIEW_LAZY`);
    for (const c of [k, ...(lazy.imports ?? [])]) keys.add(c);
  }
  const rows = [...keys].map((k) => {
    const { file } = chunk(m, k);
    const body = readFileSync(join(DIST_DIR, file));
    return {
      file,
      raw: body.length,
      gzip: gzipSync(body, { level: 9 }).length,
      brotli: brotliCompressSync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  });
  const total = rows.reduce((a, r) => ({ raw: a.raw + r.raw, gzip: a.gzip + r.gzip, brotli: a.brotli + r.brotli }), { raw: 0, gzip: 0, brotli: 0 });
  console.log('First load of the dashboard (entry + static imports + the overview chart), JavaScript only:\n');
  console.log('chunk'.padEnd(40) + 'raw'.padStart(11) + 'gzip'.padStart(11) + 'brotli'.padStart(11));
  for (const r of rows.sort((a, b) => b.gzip - a.gzip)) console.log(r.file.padEnd(40) + kb(r.raw).padStart(11) + kb(r.gzip).padStart(11) + kb(r.brotli).padStart(11));
  console.log('total'.padEnd(40) + kb(total.raw).padStart(11) + kb(total.gzip).padStart(11) + kb(total.brotli).padStart(11));
  const ratio = total.gzip / BUDGET_BYTES;
  console.log(`\nbudget ${kb(BUDGET_BYTES)} compressed (gzip): ${kb(total.gzip)} = ${(ratio * 100).toFixed(0)}% of it${ratio > 1 ? ' — OVER BUDGET' : ''}`);
  if (ratio > 1) process.exit(1);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
