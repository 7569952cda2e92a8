import { createHash } from 'node:crypto';
import { print, type ExecutionResult, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';
import { Counter, Gauge } from 'prom-client';
import type { Principal } from '../../lib/access';
import type { BusEvent, EventBus, Unsubscribe } from '../../lib/bus';
import { AppError, ErrorCode, maskError } from '../../lib/errors';
import { log } from '../../lib/logger';
import { registry } from '../../lib/metrics';
import { executeForEvent, type EventOperation, type QueryRunner } from './execution';

/**
 * Close code for a subscriber that does not read fast enough: its socket's unsent bytes plus the
 * results waiting for it passed the per-connection limit. Not graphql-ws's 4429 (that one means
 * "too many initialisation requests" and its client never retries it); 4413 mirrors HTTP 413 and
 * is retryable, so a client that was only briefly slow reconnects on its own.
 */
export const SLOW_CONSUMER_CLOSE_CODE = 4413;

const active = new Gauge({
  name: 'abt_gateway_subscriptions_active',
  help: 'Subscriptions the gateway is serving, by root field',
  labelNames: ['field'] as const,
  registers: [registry],
});
const events = new Counter({
  name: 'abt_gateway_subscription_events_total',
  help: 'Bus events per subscription group, by root field and outcome',
  labelNames: ['field', 'outcome'] as const,
  registers: [registry],
});
const slowConsumers = new Counter({
  name: 'abt_gateway_slow_consumers_total',
  help: 'WebSocket connections closed because they did not read fast enough',
  registers: [registry],
});

/** The socket surface the hub needs (a `ws` WebSocket). */
export type ClientSocket = {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string): void;
  close(code: number, reason: string): void;
};

const OPEN = 1;

/** One WebSocket connection: who it is; its socket's unsent bytes are what it owes the network. */
export class Connection {
  dropped = false;
  readonly members = new Set<Member>();

  constructor(
    readonly socket: ClientSocket,
    readonly principal: Principal,
    readonly authorization: string | undefined,
    /** Token expiry (epoch ms); events after it end the subscription with UNAUTHENTICATED. */
    readonly expiresAt: number | undefined,
  ) {}

  get tenantId(): string | undefined {
    return this.principal.kind === 'anonymous' ? undefined : this.principal.tenantId;
  }
}

export type Prepared = {
  /** The graphql-ws subscription id: results are written to the socket as `next` messages for it. */
  id: string;
  op: EventOperation;
  channel: string;
  /** Set for tenant-scoped sources: only events on this tenant's channels are delivered. */
  tenantId: string | undefined;
  minIntervalMs: number | undefined;
  /** The subscription's own filter on event values (shared by its group: same document and variables). */
  accepts?: (value: Record<string, unknown>) => boolean;
  /** Checked once at subscribe time with the subscriber's credential (see SubscriptionSource.mustSee). */
  visibility?: { query: string; variables: Record<string, unknown>; what: string };
  connection: Connection;
};

type Limits = {
  maxBufferedBytes: number;
  maxPendingEventsPerGroup: number;
  /** How errors in results are shown to clients: the gateway's own formatter (masking, no suggestions). */
  formatError?: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
};

/**
 * Subscriptions that share a channel, tenant, role and operation (document, name, variables).
 * Each event is executed once for the group and the result fanned out; follow-up queries run
 * with one member's credential, which is safe because every member has the same tenant and role.
 */
class Group {
  readonly members = new Set<Member>();
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private warned = false;

  constructor(
    readonly key: string,
    readonly op: EventOperation,
    readonly tenantId: string | undefined,
    private readonly runQuery: QueryRunner,
    private readonly limits: Limits,
    private readonly accepts?: (value: Record<string, unknown>) => boolean,
  ) {}

  /** Events are processed in order, one at a time per group; a group far behind drops events. */
  enqueue(channel: string, event: BusEvent, receivedAt: number): void {
    if (this.pending >= this.limits.maxPendingEventsPerGroup) {
      events.inc({ field: this.op.rootField, outcome: 'dropped_backlog' });
      if (!this.warned) log().warn({ field: this.op.rootField, channel }, 'subscription group is behind; dropping events');
      this.warned = true;
      return;
    }
    this.pending++;
    this.tail = this.tail
      .then(() => this.process(channel, event, receivedAt))
      .catch((err: Error) => log().error({ err, field: this.op.rootField }, 'subscription event failed'))
      .finally(() => {
        this.pending--;
      });
  }

  private async process(channel: string, event: BusEvent, receivedAt: number): Promise<void> {
    const field = this.op.rootField;
    const source = this.op.source;
    if (this.tenantId !== undefined && source.tenantOfChannel?.(channel)?.toLowerCase() !== this.tenantId) {
      events.inc({ field, outcome: 'dropped_tenant' });
      return;
    }
    const value = source.toValue(event);
    if (!value) {
      events.inc({ field, outcome: 'dropped_unknown_event' });
      return;
    }
    if (this.accepts && !this.accepts(value)) {
      events.inc({ field, outcome: 'dropped_filtered' });
      return;
    }
    const now = Date.now();
    for (const m of this.members) {
      if (m.connection.expiresAt !== undefined && m.connection.expiresAt <= now) {
        m.fail(new AppError(ErrorCode.UNAUTHENTICATED, 'token has expired; reconnect with a fresh one'));
      } else if (this.tenantId !== undefined && m.connection.tenantId !== this.tenantId) {
        m.fail(new AppError(ErrorCode.FORBIDDEN, 'subscription tenant mismatch')); // unreachable by construction
      }
    }
    const representative = [...this.members][0];
    if (!representative) return;
    const authorization = this.tenantId === undefined ? undefined : representative.connection.authorization;
    const result = await executeForEvent(this.op, value, authorization, this.runQuery);
    const payload: FormattedExecutionResult = {
      ...(result.data !== undefined ? { data: result.data } : {}),
      ...(result.errors ? { errors: result.errors.map((e) => (this.limits.formatError ?? maskError)(e.toJSON(), e)) } : {}),
    };
    // Encoded once per event and group; each member only wraps it in its own `next` envelope.
    const json = JSON.stringify(payload);
    const at = source.timeOf?.(value) ?? receivedAt;
    for (const m of this.members) m.deliver(json, at);
    events.inc({ field, outcome: 'delivered' });
  }
}

type Waiter = { resolve: (r: IteratorResult<ExecutionResult>) => void; reject: (err: Error) => void };

/**
 * One client subscription. Results go straight to the socket as graphql-ws `next` messages (the
 * payload encoded once per group, see Group.process), not through graphql-ws's per-subscriber
 * iteration: graphql-ws iterates this object only to learn that the subscription ended (`return`
 * on the client's `complete` or a disconnect) or failed (`fail` → an `error` message).
 */
export class Member implements AsyncIterableIterator<ExecutionResult> {
  private waiter: Waiter | undefined;
  private failure: Error | undefined;
  private done = false;
  private lastSentAt: number | undefined;
  private readonly envelope: string;

  constructor(
    readonly connection: Connection,
    id: string,
    private readonly minIntervalMs: number | undefined,
    private readonly leave: (m: Member) => void,
    private readonly onSlow: (c: Connection) => void,
    private readonly maxBufferedBytes: number,
  ) {
    this.envelope = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  /** Sends one encoded result (`{"data":…}`), unless thinned out, or the connection owes too many bytes. */
  deliver(payloadJson: string, at: number): void {
    const c = this.connection;
    if (this.done || c.dropped || c.socket.readyState !== OPEN) return;
    if (this.minIntervalMs !== undefined && this.lastSentAt !== undefined && at - this.lastSentAt < this.minIntervalMs) return;
    if (c.socket.bufferedAmount + payloadJson.length + this.envelope.length > this.maxBufferedBytes) {
      this.onSlow(c);
      return;
    }
    this.lastSentAt = at;
    c.socket.send(`${this.envelope}${payloadJson}}`);
  }

  /** Ends the subscription with an error graphql-ws sends to the client as an `error` message. */
  fail(err: Error): void {
    if (this.done) return;
    this.failure = err;
    this.finish();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(err);
    }
  }

  /** Pending until the subscription ends: results never pass through here. */
  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.failure) {
      const err = this.failure;
      this.failure = undefined;
      return Promise.reject(err);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.finish();
    this.failure = undefined;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(): Promise<IteratorResult<ExecutionResult>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.leave(this);
  }
}

type Channel = { ready: Promise<void>; unsubscribe?: Unsubscribe; groups: Map<string, Group> };

export type HubStats = { channels: number; groups: number; subscribers: number };

/**
 * Fans bus events out to subscriptions: one bus subscription per channel per gateway, one
 * execution per event per group, a bounded buffer per connection.
 */
export class SubscriptionHub {
  private readonly channels = new Map<string, Channel>();
  private closed = false;

  constructor(
    private readonly bus: EventBus,
    private readonly runQuery: QueryRunner,
    private readonly limits: Limits,
  ) {}

  /** Resolves once the channel is subscribed on the bus, so no event published after it is missed. */
  async join(p: Prepared): Promise<Member> {
    if (this.closed) throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'the gateway is shutting down');
    let channel = this.channels.get(p.channel);
    if (!channel) {
      const created: Channel = { ready: Promise.resolve(), groups: new Map() };
      created.ready = this.bus
        .subscribe(p.channel, (name, event) => this.dispatch(created, name, event))
        .then((unsubscribe) => {
          created.unsubscribe = unsubscribe;
        });
      this.channels.set(p.channel, created);
      channel = created;
      created.ready.catch(() => {
        if (this.channels.get(p.channel) === created) this.channels.delete(p.channel);
      });
    }
    const key = groupKey(p);
    let group = channel.groups.get(key);
    if (!group) {
      group = new Group(key, p.op, p.tenantId, this.runQuery, this.limits, p.accepts);
      channel.groups.set(key, group);
    }
    const g = group;
    const ch = channel;
    const field = p.op.rootField;
    const member = new Member(
      p.connection,
      p.id,
      p.minIntervalMs,
      (m) => {
        g.members.delete(m);
        p.connection.members.delete(m);
        active.dec({ field });
        if (g.members.size === 0 && ch.groups.get(key) === g) ch.groups.delete(key);
        if (ch.groups.size === 0 && this.channels.get(p.channel) === ch) {
          this.channels.delete(p.channel);
          void ch.ready.then(() => ch.unsubscribe?.()).catch((err: Error) => log().warn({ err: err.message }, 'bus unsubscribe failed'));
        }
      },
      (c) => this.dropSlow(c),
      this.limits.maxBufferedBytes,
    );
    g.members.add(member);
    p.connection.members.add(member);
    active.inc({ field });
    try {
      await ch.ready;
    } catch (err) {
      member.fail(new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'live events are unavailable'));
      throw err;
    }
    return member;
  }

  stats(): HubStats {
    let groups = 0;
    let subscribers = 0;
    for (const c of this.channels.values()) {
      groups += c.groups.size;
      for (const g of c.groups.values()) subscribers += g.members.size;
    }
    return { channels: this.channels.size, groups, subscribers };
  }

  async close(): Promise<void> {
    this.closed = true;
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const c of channels) for (const g of c.groups.values()) for (const m of g.members) void m.return();
    await Promise.allSettled(channels.map((c) => c.ready.then(() => c.unsubscribe?.())));
  }

  /** `event` was decoded and validated by the catalog (lib/events) once, in the bus, for every group. */
  private dispatch(channel: Channel, name: string, event: BusEvent): void {
    const receivedAt = Date.now();
    for (const g of channel.groups.values()) g.enqueue(name, event, receivedAt);
  }

  private dropSlow(c: Connection): void {
    if (c.dropped) return;
    c.dropped = true;
    slowConsumers.inc();
    log().warn({ socketBufferedBytes: c.socket.bufferedAmount }, 'closing a WebSocket that does not read fast enough');
    c.socket.close(SLOW_CONSUMER_CLOSE_CODE, 'Slow consumer: too many unsent bytes');
  }
}

/** Printed once per (shared, cached) document rather than once per subscriber. */
const printed = new WeakMap<EventOperation['document'], string>();

function groupKey(p: Prepared): string {
  // Members of a group share follow-up results: same tenant and same rights (a role, or one API key).
  const pr = p.connection.principal;
  const rights = pr.kind === 'user' ? pr.role : pr.kind === 'apiKey' ? `key:${pr.keyId}` : '-';
  const who = p.tenantId === undefined ? 'public' : `${p.tenantId}/${rights}`;
  let text = printed.get(p.op.document);
  if (text === undefined) {
    text = print(p.op.document);
    printed.set(p.op.document, text);
  }
  return createHash('sha256')
    .update(JSON.stringify([p.channel, who, text, p.op.operationName ?? null, p.op.variables]))
    .digest('base64url');
}
