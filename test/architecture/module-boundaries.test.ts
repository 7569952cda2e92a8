import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REFERENCE_TABLES } from '../../lib/access';
import type { ModuleName, PlatformModule } from '../../lib/module';
import { MODULES } from '../../ops/modules';

/**
 * No module touches another module's tables outside its `module.ts` contract (`tables.shared`, each
 * with why), and `workers/` hosts jobs without holding SQL of its own. Read from the source: every
 * SQL string literal of a subgraph's non-test files, and every MikroORM call on an entity class.
 */

const ROOT = join(__dirname, '..', '..');
/** The platform's own tables (lib/db, lib/outbox, lib/audit): every module writes jobs and facts there. */
const PLATFORM_TABLES = new Set(['outbox', 'schema_migrations', 'mikro_orm_migrations']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(name) && !/\.(spec|test|testutil|fixtures)\.ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** String and template literals (template holes kept as text: a table name after a schema hole still shows). */
function literals(src: string): string[] {
  const out: string[] = [];
  const re = /`((?:\\[\s\S]|[^`\\])*)`|'((?:\\.|[^'\\\n])*)'|"((?:\\.|[^"\\\n])*)"/g;
  for (let m = re.exec(src); m; m = re.exec(src)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

const SQL = /\b(select\s[\s\S]*\bfrom\b|insert\s+into|update\s+\S+\s+set|delete\s+from|create\s+(table|index|unique\s+index|policy)|alter\s+table|grant\s+\w+)/i;
const isSql = (text: string): boolean => SQL.test(text);

type Access = { table: string; access: 'read' | 'write'; file: string; how: string };

/** Tables a SQL text names after from/join/into/update/table/references/on, with whether it writes them. */
function sqlAccesses(text: string, file: string): Access[] {
  const out: Access[] = [];
  const re = /\b(from|join|into|update|table(?:\s+if\s+(?:not\s+)?exists)?|references|on)\s+(?:only\s+)?(?:"?\$\{[^}]+\}"?\.|"?[a-z_]+"?\.)?"?([a-z_][a-z0-9_]*)"?/gi;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const word = (m[1] ?? '').toLowerCase();
    const before = text.slice(Math.max(0, m.index - 10), m.index).toLowerCase();
    const writes = word === 'into' || word === 'update' || word.startsWith('table') || (word === 'from' && /delete\s*$/.test(before));
    out.push({ table: (m[2] ?? '').toLowerCase(), access: writes ? 'write' : 'read', file, how: `SQL "${word} ${m[2]}"` });
  }
  return out;
}

const ENTITY_CALL =
  /\.(find|findOne|findOneOrFail|findAll|findAndCount|count|create|upsert|upsertMany|insert|insertMany|nativeUpdate|nativeDelete|getReference|createQueryBuilder|qb)\(\s*([A-Z]\w*)\s*[,)]/g;
const WRITE_CALLS = new Set(['create', 'upsert', 'upsertMany', 'insert', 'insertMany', 'nativeUpdate', 'nativeDelete']);

function ownership(modules: readonly PlatformModule[]): { tables: Map<string, ModuleName>; entities: Map<string, ModuleName> } {
  const tables = new Map<string, ModuleName>();
  for (const m of modules) {
    for (const t of [...m.tables.tenant, ...m.tables.public]) {
      const prior = tables.get(t);
      if (prior) throw new Error(`${t} is claimed by ${prior} and ${m.name}`);
      tables.set(t, m.name);
    }
  }
  const entities = new Map<string, ModuleName>();
  for (const m of modules) for (const e of m.entities) entities.set(e.name, m.name);
  return { tables, entities };
}

/** Entity class name → table, from the @Entity decorators in a module's files. */
function entityTables(files: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    const re = /@Entity\(\{\s*tableName:\s*'([a-z_]+)'[^)]*\)\s*(?:@\w+\([^)]*\)\s*)*export class (\w+)/g;
    for (let m = re.exec(src); m; m = re.exec(src)) out.set(m[2] ?? '', m[1] ?? '');
  }
  return out;
}

const folderOf = (m: ModuleName): string => join(ROOT, 'subgraphs', m);

describe('module boundaries', () => {
  const { tables: owners, entities } = ownership(MODULES);
  const allFiles = new Map(MODULES.map((m) => [m.name, sourceFiles(folderOf(m.name))]));
  const tableOfEntity = entityTables([...allFiles.values()].flat());

  const moduleOfFile = (file: string): ModuleName | undefined => MODULES.find((m) => (allFiles.get(m.name) ?? []).includes(file))?.name;

  /** Another module's files this one imports: their SQL runs in this module's transactions (e.g. tenant's payment-event lock). */
  function foreignImports(m: PlatformModule): string[] {
    const out = new Set<string>();
    for (const file of allFiles.get(m.name) ?? []) {
      const re = /from '(\.[^']+)'/g;
      const src = readFileSync(file, 'utf8');
      for (let i = re.exec(src); i; i = re.exec(src)) {
        const target = join(file, '..', i[1] ?? '');
        const resolved = [`${target}.ts`, join(target, 'index.ts')].find((c) => moduleOfFile(c) !== undefined);
        if (resolved && moduleOfFile(resolved) !== m.name) out.add(resolved);
      }
    }
    return [...out];
  }

  function accessesOf(m: PlatformModule): Access[] {
    const out: Access[] = [];
    for (const file of [...(allFiles.get(m.name) ?? []), ...foreignImports(m)]) {
      const src = readFileSync(file, 'utf8');
      const rel = moduleOfFile(file) === m.name ? relative(ROOT, file) : `imported ${relative(ROOT, file)}`;
      for (const text of literals(src)) if (isSql(text)) out.push(...sqlAccesses(text, rel));
      for (let c = ENTITY_CALL.exec(src); c; c = ENTITY_CALL.exec(src)) {
        const owner = entities.get(c[2] ?? '');
        const table = tableOfEntity.get(c[2] ?? '');
        if (owner && table) out.push({ table, access: WRITE_CALLS.has(c[1] ?? '') ? 'write' : 'read', file: rel, how: `em.${c[1]}(${c[2]})` });
      }
      // A reference another module owns, checked by the gate against that module's table (lib/access.ts).
      const refs = /forOwnedReference\([^)]*?'(\w+)'/g;
      for (let r = refs.exec(src); r; r = refs.exec(src)) {
        const table = REFERENCE_TABLES[(r[1] ?? '') as keyof typeof REFERENCE_TABLES] as string | undefined;
        if (table) out.push({ table, access: 'read', file: rel, how: `gate.forOwnedReference(${r[1]})` });
      }
    }
    return out;
  }

  it('gives every table one owner, and every module a folder', () => {
    expect(owners.size).toBeGreaterThan(20);
    for (const m of MODULES) expect(statSync(folderOf(m.name)).isDirectory()).toBe(true);
    for (const t of PLATFORM_TABLES) expect(owners.has(t)).toBe(false);
  });

  it.each(MODULES.map((m) => [m.name, m] as const))('%s reaches other modules’ tables only as its contract declares', (_name, m) => {
    const foreign = accessesOf(m).filter((a) => {
      const owner = owners.get(a.table);
      return owner !== undefined && owner !== m.name;
    });
    const declared = m.tables.shared ?? [];
    const undeclared = foreign
      .filter((a) => !declared.some((d) => d.table === a.table && d.module === owners.get(a.table) && (d.access === 'write' || a.access === 'read')))
      .map((a) => `${a.file}: ${a.how} (${a.access} of ${owners.get(a.table)}'s ${a.table})`);
    expect(undeclared).toEqual([]);
    // Every declaration is real: the owner is right, it has a reason, and the code does use it.
    for (const d of declared) {
      expect({ table: d.table, owner: owners.get(d.table) }).toEqual({ table: d.table, owner: d.module });
      expect(d.why.length).toBeGreaterThan(20);
      expect({ declared: `${d.access} ${d.table}`, used: foreign.some((a) => a.table === d.table && (d.access === 'read' || a.access === 'write')) }).toEqual({
        declared: `${d.access} ${d.table}`,
        used: true,
      });
    }
  });

  it('finds what it looks for (the scanner sees SQL, entity calls and gate references)', () => {
    const treasury = MODULES.find((m) => m.name === 'treasury');
    const seen = new Set(accessesOf(treasury!).map((a) => a.table));
    expect([...seen].filter((t) => ['purchase', 'treasury_rule', 'accrual_entry', 'payment_event'].includes(t)).sort()).toEqual([
      'accrual_entry',
      'payment_event',
      'purchase',
      'treasury_rule',
    ]);
    const x = sqlAccesses('update "${s}".payment_event set status = 1; delete from audit_event where true', 'x.ts');
    expect(x.map((a) => `${a.access} ${a.table}`)).toEqual(expect.arrayContaining(['write payment_event', 'write audit_event']));
  });

  it('keeps SQL out of workers/: a worker hosts jobs, their SQL lives in the module that owns the data', () => {
    const withSql = sourceFiles(join(ROOT, 'workers')).flatMap((f) =>
      literals(readFileSync(f, 'utf8'))
        .filter(isSql)
        .map((text) => `${relative(ROOT, f)}: ${text.slice(0, 60)}`),
    );
    expect(withSql).toEqual([]);
  });

  /** Files other helpers of issue 9 are moving their references out of (treasury, compliance's audit); this list only shrinks. */
  const REFERENCES_BEING_MOVED: string[] = [];

  it('keeps every __resolveReference in a *.reference.ts file, asking the gate', () => {
    const misplaced: string[] = [];
    const ungated: string[] = [];
    for (const f of [...allFiles.values()].flat()) {
      const src = readFileSync(f, 'utf8');
      if (!src.includes('__resolveReference(')) continue;
      const rel = relative(ROOT, f);
      if (!rel.endsWith('.reference.ts') && !REFERENCES_BEING_MOVED.includes(rel)) misplaced.push(rel);
      // Each reference resolver's body reaches the gate (forReference / forOwnedReference) before it reads.
      for (const body of src.split('__resolveReference(').slice(1)) if (!/ctx\.gate\.for(Owned)?Reference\(/.test(body.split(/\n {2}\w+: \{|\n\};/)[0] ?? '')) ungated.push(rel);
    }
    expect({ misplaced, ungated }).toEqual({ misplaced: [], ungated: [] });
    for (const rel of REFERENCES_BEING_MOVED) expect({ rel, stillThere: readFileSync(join(ROOT, rel), 'utf8').includes('__resolveReference(') }).toEqual({ rel, stillThere: true });
  });

  it('keeps files small by feature: no file declares six resolvers or eight entities', () => {
    const big = [...allFiles.values()].flat().flatMap((f) => {
      const src = readFileSync(f, 'utf8');
      const resolvers = src.match(/^@Resolver\(/gm)?.length ?? 0;
      const ents = src.match(/^@Entity\(/gm)?.length ?? 0;
      return resolvers >= 6 || ents >= 8 ? [`${relative(ROOT, f)}: ${resolvers} resolvers, ${ents} entities`] : [];
    });
    expect(big).toEqual([]);
  });
});
