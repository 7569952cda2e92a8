import { MikroORM, type EntityManager, type Options } from '@mikro-orm/postgresql';
import type { ReadinessCheck } from '../http';

export type { EntityManager };
type EntityList = NonNullable<Options['entities']>;

/** An ORM connected as the application role (non-owner, RLS applies). */
export async function openAppOrm(url: string, entities: EntityList, poolMax: number): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: url,
    entities,
    discovery: { warnWhenNoEntities: false, disableDynamicFileAccess: true },
    pool: { min: 0, max: poolMax },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
  });
}

/** Readiness: the connection pool can run a query. */
export function databaseCheck(orm: MikroORM, name = 'database'): ReadinessCheck {
  return { name, check: async () => void (await orm.em.fork().execute('select 1')) };
}
