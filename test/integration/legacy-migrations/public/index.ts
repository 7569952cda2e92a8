import { readdirSync } from 'node:fs';
import type { MigrationObject } from '@mikro-orm/core';

type MigrationClass = MigrationObject['class'];

/**
 * Every public migration in this folder, in name (= timestamp) order. A migration file is
 * `MigrationYYYYMMDDhhmmss_<what>.ts` exporting a class of the same name; it grants its own tables'
 * privileges to abt_app/abt_relay (the roles exist before migrations run). Adding a file is enough.
 */
export function publicMigrations(): MigrationObject[] {
  return readdirSync(__dirname)
    .filter((f) => /^Migration\d{14}_\w+\.(ts|js)$/.test(f))
    .map((f) => f.replace(/\.(ts|js)$/, ''))
    .sort()
    .map((name) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(`./${name}`) as Record<string, MigrationClass | undefined>;
      const cls = mod[name];
      if (!cls) throw new Error(`test/integration/legacy-migrations/public/${name} must export a class named ${name}`);
      return { name, class: cls };
    });
}
