import { readdirSync } from 'node:fs';
import type { MigrationObject } from '@mikro-orm/core';
import type { PublicMigration } from '../module';

type MigrationClass = MigrationObject['class'] & { replaces?: readonly string[] };

/**
 * Every public migration in one folder, in name (= timestamp) order. A file is
 * `MigrationYYYYMMDDhhmmss_<what>.ts` exporting a class of the same name (the name MikroORM records);
 * a static `replaces` names the migrations that already applied its statements. Adding a file is enough.
 */
export function loadPublicMigrations(dir: string): PublicMigration[] {
  return readdirSync(dir)
    .filter((f) => /^Migration\d{14}_\w+\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => f.replace(/\.(ts|js)$/, ''))
    .sort()
    .map((name) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(`${dir}/${name}`) as Record<string, MigrationClass | undefined>;
      const cls = mod[name];
      if (!cls) throw new Error(`${dir}/${name} must export a class named ${name}`);
      return cls.replaces ? { name, class: cls, replaces: cls.replaces } : { name, class: cls };
    });
}
