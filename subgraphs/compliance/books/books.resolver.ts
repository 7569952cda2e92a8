import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import type { KeyRing } from '../../../lib/crypto/secret-box';
import { notFound } from '../../../lib/errors';
import { AudCentsScalar } from '../../../lib/money';
import type { SubgraphContext } from '../../../lib/subgraph';
import {
  completeLedgerConnection,
  disconnectLedger,
  findJournalPost,
  listConnections,
  listJournalPosts,
  retryJournalPost,
  setAccountMapping,
  startLedgerConnection,
  type JournalPostRow,
  type LedgerConnectionRow,
} from './books.service';
import type { LedgerClients } from './ledger-clients';

/** What the books resolvers need from the compliance services. */
export type BooksServices = { books: { ring: KeyRing; clients: LedgerClients } };
type Ctx = SubgraphContext<BooksServices>;

enum LedgerProviderGql {
  XERO = 'XERO',
  MYOB = 'MYOB',
}
registerEnumType(LedgerProviderGql, { name: 'LedgerProvider' });

enum LedgerConnectionStatusGql {
  ACTIVE = 'ACTIVE',
  RECONNECT_REQUIRED = 'RECONNECT_REQUIRED',
  DISCONNECTED = 'DISCONNECTED',
}
registerEnumType(LedgerConnectionStatusGql, { name: 'LedgerConnectionStatus' });

enum JournalPostStatusGql {
  PENDING = 'PENDING',
  POSTED = 'POSTED',
  FAILED = 'FAILED',
}
registerEnumType(JournalPostStatusGql, { name: 'JournalPostStatus' });

enum FeeTreatmentGql {
  COST_BASE = 'COST_BASE',
  EXPENSE = 'EXPENSE',
}
registerEnumType(FeeTreatmentGql, { name: 'FeeTreatment', description: 'COST_BASE (default): fees are part of the bitcoin’s cost; EXPENSE: fees to the fees expense account.' });

@ObjectType('AccountMapping', { description: 'The ledger accounts a connection posts to (Xero: account codes; MYOB: account UIDs).' })
class AccountMappingGql {
  @Field(() => String) digitalAsset!: string;
  @Field(() => String) exchangeClearing!: string;
  @Field(() => String) feesExpense!: string;
  @Field(() => String) realisedGain!: string;
  @Field(() => String) realisedLoss!: string;
  @Field(() => FeeTreatmentGql) feeTreatment!: FeeTreatmentGql;
  @Field(() => String, { nullable: true }) gstOnFees!: string | null;
  @Field(() => String, { nullable: true, description: 'MYOB: the TaxCode UID every line carries.' }) defaultTaxCode!: string | null;
}

@InputType('AccountMappingInput')
class AccountMappingInput {
  @Field(() => String) digitalAsset!: string;
  @Field(() => String) exchangeClearing!: string;
  @Field(() => String) feesExpense!: string;
  @Field(() => String) realisedGain!: string;
  @Field(() => String) realisedLoss!: string;
  @Field(() => FeeTreatmentGql, { nullable: true }) feeTreatment?: FeeTreatmentGql;
  @Field(() => String, { nullable: true }) gstOnFees?: string;
  @Field(() => String, { nullable: true, description: 'Required for MYOB: the TaxCode UID for these lines (e.g. N-T).' }) defaultTaxCode?: string;
}

@ObjectType('LedgerConnection', { description: 'A connected Xero organisation or MYOB company file.' })
class LedgerConnectionGql {
  @Field(() => ID) id!: string;
  @Field(() => LedgerProviderGql) provider!: LedgerProviderGql;
  @Field(() => String, { description: 'Xero tenant id or MYOB company file (business) id.' }) externalId!: string;
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => LedgerConnectionStatusGql) status!: LedgerConnectionStatusGql;
  @Field(() => AccountMappingGql, { nullable: true, description: 'Null until setAccountMapping: nothing is posted before.' }) mapping!: AccountMappingGql | null;
  @Field(() => Date) createdAt!: Date;
}

@ObjectType('LedgerAuthorization', { description: 'Send the browser to authorizationUrl; pass the full redirect URL to completeLedgerConnection.' })
class LedgerAuthorizationGql {
  @Field(() => String) authorizationUrl!: string;
  @Field(() => Date) expiresAt!: Date;
}

@ObjectType('JournalPost', { description: 'One source event’s journal in one ledger: the reconciliation view.' })
class JournalPostGql {
  @Field(() => ID) id!: string;
  @Field(() => ID) connectionId!: string;
  @Field(() => LedgerProviderGql) provider!: LedgerProviderGql;
  @Field(() => String, { description: 'FILL or SALE.' }) sourceKind!: string;
  @Field(() => String, { description: 'The purchase (fill) or sale id.' }) sourceId!: string;
  @Field(() => String) idempotencyKey!: string;
  @Field(() => JournalPostStatusGql) status!: JournalPostStatusGql;
  @Field(() => String, { nullable: true, description: 'Why the last attempt failed (a BooksReason, MAPPING_REQUIRED, …).' }) reason!: string | null;
  @Field(() => [String], { description: 'The ledger’s validation messages, when it gave some.' }) messages!: string[];
  @Field(() => Int, { description: 'HTTP requests spent so far (lookups and retries included).' }) attempts!: number;
  @Field(() => String, { nullable: true, description: 'ManualJournalID (Xero) or GeneralJournal UID (MYOB).' }) externalId!: string | null;
  @Field(() => AudCentsScalar, { nullable: true, description: 'Debits (= credits) of the journal.' }) totalAudCents!: bigint | null;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date) updatedAt!: Date;
  @Field(() => Date, { nullable: true }) postedAt!: Date | null;
}

const connectionGql = (c: LedgerConnectionRow): LedgerConnectionGql => ({
  id: c.id,
  provider: LedgerProviderGql[c.provider],
  externalId: c.externalId,
  name: c.name,
  status: LedgerConnectionStatusGql[c.status],
  mapping: c.mapping
    ? {
        digitalAsset: c.mapping.digitalAsset,
        exchangeClearing: c.mapping.exchangeClearing,
        feesExpense: c.mapping.feesExpense,
        realisedGain: c.mapping.realisedGain,
        realisedLoss: c.mapping.realisedLoss,
        feeTreatment: FeeTreatmentGql[c.mapping.feeTreatment ?? 'COST_BASE'],
        gstOnFees: c.mapping.gstOnFees ?? null,
        defaultTaxCode: c.defaultTaxCode,
      }
    : null,
  createdAt: c.createdAt,
});

const postGql = (p: JournalPostRow): JournalPostGql => ({
  id: p.id,
  connectionId: p.connectionId,
  provider: LedgerProviderGql[p.provider],
  sourceKind: p.sourceKind,
  sourceId: p.sourceId,
  idempotencyKey: p.idempotencyKey,
  status: JournalPostStatusGql[p.status],
  reason: p.reason,
  messages: p.messages,
  attempts: p.attempts,
  externalId: p.externalId,
  totalAudCents: p.debitAudCents,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
  postedAt: p.postedAt,
});

@Resolver()
export class BooksResolver {
  @Query(() => [LedgerConnectionGql], { description: 'Connected ledgers (Xero organisations, MYOB company files).' })
  async ledgerConnections(@Ctx() ctx: Ctx): Promise<LedgerConnectionGql[]> {
    const scope = ctx.gate.require(ctx, 'books:read');
    return (await scope.tx((tx) => listConnections(tx))).map(connectionGql);
  }

  @Mutation(() => LedgerAuthorizationGql, { description: 'Starts connecting Xero or MYOB by OAuth (authorization code; PKCE for Xero).' })
  async connectLedger(@Ctx() ctx: Ctx, @Arg('provider', () => LedgerProviderGql) provider: LedgerProviderGql): Promise<LedgerAuthorizationGql> {
    const scope = ctx.gate.require(ctx, 'books:manage');
    return scope.tx((tx) => startLedgerConnection(tx, ctx.services.books.ring, ctx.services.books.clients, scope.userId, provider));
  }

  @Mutation(() => [LedgerConnectionGql], { description: 'Completes a connection with the provider’s full redirect URL (code and state); returns the connected organisations.' })
  async completeLedgerConnection(@Ctx() ctx: Ctx, @Arg('callbackUrl', () => String) callbackUrl: string): Promise<LedgerConnectionGql[]> {
    const scope = ctx.gate.require(ctx, 'books:manage');
    return (await completeLedgerConnection((fn) => scope.tx(fn), ctx.services.books.ring, ctx.services.books.clients, scope.userId, callbackUrl)).map(connectionGql);
  }

  @Mutation(() => LedgerConnectionGql, { description: 'Chooses the accounts a connection posts to.' })
  async setAccountMapping(
    @Ctx() ctx: Ctx,
    @Arg('connectionId', () => ID) connectionId: string,
    @Arg('mapping', () => AccountMappingInput) mapping: AccountMappingInput,
  ): Promise<LedgerConnectionGql> {
    const scope = ctx.gate.require(ctx, 'books:manage');
    return connectionGql(await scope.tx((tx) => setAccountMapping(tx, scope.userId, connectionId, { ...mapping })));
  }

  @Mutation(() => LedgerConnectionGql, { description: 'Disconnects a ledger (Xero: removes the connection, revoking the grant with the last one).' })
  async disconnectLedger(@Ctx() ctx: Ctx, @Arg('connectionId', () => ID) connectionId: string): Promise<LedgerConnectionGql> {
    const scope = ctx.gate.require(ctx, 'books:manage');
    return connectionGql(await disconnectLedger((fn) => scope.tx(fn), ctx.services.books.ring, ctx.services.books.clients, scope.userId, connectionId));
  }

  @Query(() => [JournalPostGql], { description: 'Reconciliation: each journal per ledger, newest first — posted, pending, failed with reason.' })
  async journalPosts(
    @Ctx() ctx: Ctx,
    @Arg('status', () => JournalPostStatusGql, { nullable: true }) status?: JournalPostStatusGql,
    @Arg('first', () => Int, { nullable: true }) first?: number,
  ): Promise<JournalPostGql[]> {
    const scope = ctx.gate.require(ctx, 'books:read');
    return (await scope.tx((tx) => listJournalPosts(tx, { status, first }))).map(postGql);
  }

  @Query(() => JournalPostGql, { description: 'One journal post.' })
  async journalPost(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<JournalPostGql> {
    const scope = ctx.gate.require(ctx, 'books:read');
    const row = await scope.tx((tx) => findJournalPost(tx, id));
    if (!row) throw notFound('journal post');
    return postGql(row);
  }

  @Mutation(() => JournalPostGql, { description: 'Posts a pending or failed journal again (the same idempotency key: never a second journal).' })
  async retryJournalPost(@Ctx() ctx: Ctx, @Arg('id', () => ID) id: string): Promise<JournalPostGql> {
    const scope = ctx.gate.require(ctx, 'books:manage');
    return postGql(await scope.tx((tx) => retryJournalPost(tx, scope.userId, id)));
  }
}
