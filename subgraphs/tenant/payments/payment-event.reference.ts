import DataLoader from 'dataloader';
import type { Scope } from '../../../lib/access';
import { isUuid } from '../../../lib/db/tenant-context';
import { paymentEventsById } from './payment-events';
import { toNode, type Ctx, type PaymentEventNode } from './payment-event.resolver';

/** One loader per request (context) and caller: references resolved in one tick are read in one query. */
const loaders = new WeakMap<object, DataLoader<string, PaymentEventNode | null>>();

function loaderFor(ctx: Ctx, scope: Scope): DataLoader<string, PaymentEventNode | null> {
  let loader = loaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids: readonly string[]) => {
      const found = new Map((await scope.tx(({ em }) => paymentEventsById(em, ids))).map((e) => [e.id, toNode(e)]));
      return ids.map((id) => found.get(id) ?? null);
    });
    loaders.set(ctx, loader);
  }
  return loader;
}

export const paymentEventReferences = {
  PaymentEvent: {
    /** Another tenant's event is invisible under the caller's row-level security: null, like an unknown id. */
    async __resolveReference(ref: { id: string }, ctx: Ctx): Promise<PaymentEventNode | null> {
      const p = ctx.principal;
      const scope = p.kind !== 'anonymous' ? ctx.gate.forReference(ctx, 'integration:read', p.tenantId) : null;
      if (!scope || typeof ref.id !== 'string' || !isUuid(ref.id)) return null;
      return loaderFor(ctx, scope).load(ref.id.toLowerCase());
    },
  },
};
