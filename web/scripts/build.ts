/**
 * Builds the dashboard into web/dist: typed operations (codegen), the Vite bundle, and the
 * first-party persisted-query manifest the gateway preloads (web/dist/persisted-operations.json).
 *
 *   node -r @swc-node/register web/scripts/build.ts           # always build
 *   node -r @swc-node/register web/scripts/build.ts --if-stale  # only when dist is missing or stale (npm start)
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { Kind, parse } from 'graphql';
import { serializeManifest, sha256Hex, type ManifestOperation, type PersistedQueryManifest } from '../../gateway/edge/manifest';
import { runCodegen } from './codegen';
import { BUILD_STAMP, DASHBOARD_MANIFEST, DIST_DIR, GQL_DIR, REPO_DIR, SUPERGRAPH, WEB_DIR } from './paths';

/** Files whose change means the bundle must be rebuilt (sources, config, schema, installed versions). */
function inputFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (p === GQL_DIR || p === DIST_DIR || p === LOCK || name === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(WEB_DIR);
  return [...out, SUPERGRAPH, join(REPO_DIR, 'package-lock.json'), join(REPO_DIR, 'gateway', 'edge', 'manifest.ts')];
}

export function inputsHash(): string {
  const h = createHash('sha256');
  for (const f of inputFiles()) h.update(relative(REPO_DIR, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

export function isBuildFresh(hash = inputsHash()): boolean {
  return existsSync(BUILD_STAMP) && existsSync(DASHBOARD_MANIFEST) && readFileSync(BUILD_STAMP, 'utf8').trim() === hash;
}

type PersistedDocuments = Record<string, string>;

/**
 * codegen's persisted-documents.json (hash → the exact body it hashed) in the gateway's manifest
 * format; the gateway checks every id is the SHA-256 of its body when it loads the file.
 */
function writeDashboardManifest(): number {
  const docs = JSON.parse(readFileSync(join(GQL_DIR, 'persisted-documents.json'), 'utf8')) as PersistedDocuments;
  const operations: ManifestOperation[] = Object.entries(docs).map(([id, body]) => {
    if (sha256Hex(body) !== id) throw new Error(`dashboard operation ${id}: the id is not the SHA-256 of its body`);
    const op = parse(body, { noLocation: true }).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    if (!op || op.kind !== Kind.OPERATION_DEFINITION || !op.name) throw new Error(`dashboard operation ${id} has no named operation`);
    return { id, name: op.name.value, type: op.operation, body };
  });
  operations.sort((a, b) => a.name.localeCompare(b.name));
  const manifest: PersistedQueryManifest = { format: 'apollo-persisted-query-manifest', version: 1, operations };
  writeFileSync(DASHBOARD_MANIFEST, serializeManifest(manifest));
  return operations.length;
}

/** `.br` and `.gz` beside each script and stylesheet, which the gateway serves to browsers that accept them. */
function precompress(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (!/\.(js|css)$/.test(name)) continue;
    const body = readFileSync(join(dir, name));
    writeFileSync(join(dir, name + '.br'), brotliCompressSync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }));
    writeFileSync(join(dir, name + '.gz'), gzipSync(body, { level: 9 }));
  }
}

export async function buildDashboard(): Promise<void> {
  const hash = inputsHash();
  await runCodegen();
  // Vite is ESM-only; swc keeps dynamic imports (ignoreDynamic), so this loads it from CommonJS.
  const vite = await import('vite');
  await vite.build({ root: WEB_DIR, configFile: join(WEB_DIR, 'vite.config.mts'), logLevel: 'error' });
  precompress(join(DIST_DIR, 'assets'));
  const operations = writeDashboardManifest();
  writeFileSync(BUILD_STAMP, hash + '\n');
  console.log(`web/dist built (${operations} persisted operations)`);
}

const LOCK = join(WEB_DIR, '.build-lock');
const LOCK_STALE_MS = 5 * 60_000;

/** One build at a time (two test files, or a test and `npm start`, may ask at once): a lock directory. */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed build does not block forever.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** For `npm start` and the browser tests: builds only when web/dist is missing or was built from other inputs. */
export async function ensureDashboardBuilt(): Promise<void> {
  if (isBuildFresh()) return;
  await withBuildLock(async () => {
    // Someone else may have built it while this waited.
    if (isBuildFresh()) return;
    console.log('building the dashboard (web/dist is missing or stale)…');
    await buildDashboard();
  });
}

if (require.main === module) {
  (process.argv.includes('--if-stale') ? ensureDashboardBuilt() : buildDashboard()).catch((err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  });
}
