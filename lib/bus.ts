import { AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { RedisPubSub, type PubSubRedisOptions } from 'graphql-redis-subscriptions';
import { decode, type BusEvent, type EventOn } from './events';
import { log } from './logger';
import { connectRedis } from './redis';

export type { BusEvent, EventOn } from './events';

/** What a subscriber to `pattern` receives: the channel's catalog event, or any event for a pattern the catalog cannot type. */
export type EventMatching<P extends string> = string extends P ? BusEvent : [EventOn<P>] extends [never] ? BusEvent : EventOn<P>;
export type BusHandler<E extends BusEvent = BusEvent> = (channel: string, event: E) => void;
export type Unsubscribe = () => Promise<void>;

/**
 * Pub/sub for live events (`price.btc.aud`, `tenant.<tid>.purchase`, …; see lib/events for the
 * catalog). Patterns use `*`. `publish` takes only the event the channel carries (checked at compile
 * time); subscribers receive only events that the catalog's `decode` accepted — a malformed or
 * unknown message is dropped (and logged) once, in the bus, before any handler sees it.
 */
export type EventBus = {
  readonly kind: 'redis' | 'in-process';
  publish<C extends string>(channel: C, event: EventOn<C>): Promise<void>;
  subscribe<P extends string>(pattern: P, handler: BusHandler<EventMatching<P>>): Promise<Unsubscribe>;
  close(): Promise<void>;
};

const isPattern = (p: string): boolean => p.includes('*');
const patternToRegex = (p: string): RegExp =>
  new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/**
 * The catalog maps channels to event types the same way EventMatching maps a literal pattern, so
 * an event decoded on a channel that matched `pattern` is that pattern's event.
 */
const asMatching = <P extends string>(event: BusEvent): EventMatching<P> => event as EventMatching<P>;

/** Single-node mode: one process, no Redis. Same contract as the Redis bus. */
export class InProcessBus implements EventBus {
  readonly kind = 'in-process' as const;
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  // Subscribers run in the bus's async context, never inside the publisher's transaction.
  private readonly detached = new AsyncResource('InProcessBus');

  publish<C extends string>(channel: C, event: EventOn<C>): Promise<void> {
    // Serialize like Redis would, so subscribers never share mutable objects with publishers.
    let text: string;
    try {
      text = JSON.stringify(event);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    setImmediate(() =>
      this.detached.runInAsyncScope(() => {
        const decoded = decode(channel, JSON.parse(text) as unknown);
        if (decoded) this.emitter.emit('message', channel, decoded);
      }),
    );
    return Promise.resolve();
  }

  subscribe<P extends string>(pattern: P, handler: BusHandler<EventMatching<P>>): Promise<Unsubscribe> {
    const re = patternToRegex(pattern);
    const listener = (channel: string, event: BusEvent): void => {
      if (re.test(channel)) handler(channel, asMatching<P>(event));
    };
    this.emitter.on('message', listener);
    const unsubscribe: Unsubscribe = () => {
      this.emitter.off('message', listener);
      return Promise.resolve();
    };
    return Promise.resolve(unsubscribe);
  }

  close(): Promise<void> {
    this.emitter.removeAllListeners();
    return Promise.resolve();
  }
}

/** One received message, decoded once for all its subscribers. */
type Delivery = { channel: string; event: BusEvent | null };

/**
 * Redis pub/sub: every process and gateway instance sees every event. The transport is
 * graphql-redis-subscriptions' RedisPubSub over two ioredis connections we own: it keeps one Redis
 * (P)SUBSCRIBE per channel or pattern however many handlers share it, and unsubscribes when the
 * last one leaves. Its per-message `deserializer` is the one place that sees the channel name, so
 * that is where the prefix is stripped and the catalog decodes the message — once per message.
 */
export class RedisBus implements EventBus {
  readonly kind = 'redis' as const;
  private readonly pubsub: RedisPubSub;
  private closed = false;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    // REDIS_URL may name a Redis Cluster (lib/redis): PUBLISH reaches every node's subscribers there too.
    const publisher = connectRedis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    const subscriber = connectRedis(url, { lazyConnect: false, maxRetriesPerRequest: null });
    for (const c of [publisher, subscriber]) c.on('error', (err: Error) => log().warn({ err: err.message }, 'redis bus error'));
    // RedisPubSub's types name its own nested ioredis 5; ours is ioredis 6, the same client API at run time.
    type Client = NonNullable<PubSubRedisOptions['publisher']>;
    this.pubsub = new RedisPubSub({
      publisher: publisher as unknown as Client,
      subscriber: subscriber as unknown as Client,
      deserializer: (raw, { channel }): Delivery => this.receive(channel, raw),
    });
  }

  private key(channel: string): string {
    return `${this.prefix}:${channel}`;
  }

  private receive(prefixed: string, raw: string | Buffer): Delivery {
    const channel = prefixed.slice(this.prefix.length + 1);
    let value: unknown;
    try {
      value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    } catch {
      log().warn({ channel }, 'dropped malformed bus message');
      return { channel, event: null };
    }
    return { channel, event: decode(channel, value) };
  }

  async publish<C extends string>(channel: C, event: EventOn<C>): Promise<void> {
    await this.pubsub.publish(this.key(channel), event);
  }

  async subscribe<P extends string>(pattern: P, handler: BusHandler<EventMatching<P>>): Promise<Unsubscribe> {
    const id = await this.pubsub.subscribe<Delivery>(
      this.key(pattern),
      (d) => {
        if (d.event) handler(d.channel, asMatching<P>(d.event));
      },
      { pattern: isPattern(pattern) },
    );
    let done = false;
    return () => {
      // RedisPubSub.unsubscribe throws for an id it no longer knows and fires its UNSUBSCRIBE unawaited.
      if (done || this.closed) return Promise.resolve();
      done = true;
      try {
        this.pubsub.unsubscribe(id);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      return Promise.resolve();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.pubsub.getPublisher().quit(), this.pubsub.getSubscriber().quit()]);
  }
}

export function createBus(redisUrl: string | undefined, prefix: string): EventBus {
  return redisUrl ? new RedisBus(redisUrl, prefix) : new InProcessBus();
}
