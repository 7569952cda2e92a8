import { AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { log } from './logger';

export type BusEvent = { __typename: string; version: number } & Record<string, unknown>;
export type BusHandler = (channel: string, event: BusEvent) => void;
export type Unsubscribe = () => Promise<void>;

/** Pub/sub for live events (`price.btc.aud`, `tenant.<tid>.purchase`, …). Patterns use `*`. */
export type EventBus = {
  readonly kind: 'redis' | 'in-process';
  publish(channel: string, event: BusEvent): Promise<void>;
  subscribe(pattern: string, handler: BusHandler): Promise<Unsubscribe>;
  close(): Promise<void>;
};

const isPattern = (p: string): boolean => p.includes('*');
const patternToRegex = (p: string): RegExp =>
  new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/** Single-node mode: one process, no Redis. Same contract as the Redis bus. */
export class InProcessBus implements EventBus {
  readonly kind = 'in-process' as const;
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  // Subscribers run in the bus's async context, never inside the publisher's transaction.
  private readonly detached = new AsyncResource('InProcessBus');

  async publish(channel: string, event: BusEvent): Promise<void> {
    // Serialize like Redis would, so subscribers never share mutable objects with publishers.
    const copy = JSON.parse(JSON.stringify(event)) as BusEvent;
    setImmediate(() => this.detached.runInAsyncScope(() => this.emitter.emit('message', channel, copy)));
  }

  async subscribe(pattern: string, handler: BusHandler): Promise<Unsubscribe> {
    const re = patternToRegex(pattern);
    const listener = (channel: string, event: BusEvent): void => {
      if (re.test(channel)) handler(channel, event);
    };
    this.emitter.on('message', listener);
    return async () => {
      this.emitter.off('message', listener);
    };
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** Redis pub/sub: every process and gateway instance sees every event. */
export class RedisBus implements EventBus {
  readonly kind = 'redis' as const;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, Set<BusHandler>>();

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    this.pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    this.sub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null });
    const dispatch = (key: string, channel: string, raw: string): void => {
      const set = this.handlers.get(key);
      if (!set) return;
      let event: BusEvent;
      try {
        event = JSON.parse(raw) as BusEvent;
      } catch {
        log().warn({ channel }, 'dropped malformed bus message');
        return;
      }
      const local = channel.slice(this.prefix.length + 1);
      for (const h of set) h(local, event);
    };
    this.sub.on('message', (channel: string, raw: string) => dispatch(channel, channel, raw));
    this.sub.on('pmessage', (pattern: string, channel: string, raw: string) => dispatch(pattern, channel, raw));
    for (const c of [this.pub, this.sub]) c.on('error', (err: Error) => log().warn({ err: err.message }, 'redis bus error'));
  }

  private key(channel: string): string {
    return `${this.prefix}:${channel}`;
  }

  async publish(channel: string, event: BusEvent): Promise<void> {
    await this.pub.publish(this.key(channel), JSON.stringify(event));
  }

  async subscribe(pattern: string, handler: BusHandler): Promise<Unsubscribe> {
    const key = this.key(pattern);
    let set = this.handlers.get(key);
    if (!set) {
      set = new Set();
      this.handlers.set(key, set);
      if (isPattern(pattern)) await this.sub.psubscribe(key);
      else await this.sub.subscribe(key);
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(key);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.handlers.delete(key);
        if (isPattern(pattern)) await this.sub.punsubscribe(key);
        else await this.sub.unsubscribe(key);
      }
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}

export function createBus(redisUrl: string | undefined, prefix: string): EventBus {
  return redisUrl ? new RedisBus(redisUrl, prefix) : new InProcessBus();
}
