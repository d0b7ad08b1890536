// Delivers queued messages: claims due rows under a lease, renders, sends, and retries with back-off on failure.
import type { Channel } from '../domain/policy.js';
import { CODE_TEMPLATES, messageSecrets } from './messageSecrets.js';
import type { Clock, MessageRenderer, MessageTransport, OutboxStore, QueuedMessage } from './ports.js';

export interface DispatcherOptions {
  store: OutboxStore;
  clock: Clock;
  secret: string;
  publicUrl: URL;
  renderer: MessageRenderer;
  transports: Record<Channel, MessageTransport>;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a claimed row stays with this dispatcher before another may take it. */
  leaseMs?: number;
  batchSize?: number;
  onError?: (error: unknown, message?: QueuedMessage) => void;
}

export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

/** A code nobody can use any more is not worth sending. */
function hasLapsed(message: QueuedMessage, now: number): boolean {
  if (!CODE_TEMPLATES.has(message.template) || typeof message.payload.expiresAt !== 'string') return false;
  return now >= Date.parse(message.payload.expiresAt);
}

/** SMTP 5xx for this message, or a transport that marks its refusal permanent. */
export function isPermanent(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { permanent, responseCode } = error as { permanent?: unknown; responseCode?: unknown };
  if (permanent === true) return true;
  // 5xx except authentication and policy problems of our own (530, 535, 554 on connect) that an operator can fix.
  return typeof responseCode === 'number' && responseCode >= 550 && responseCode <= 553;
}

/** A message the transport took, whose record as sent could not be written within its lease: it may go out again. */
export class SentNotRecorded extends Error {
  constructor(readonly reason: unknown) {
    super(`sent, but not recorded as sent: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = 'SentNotRecorded';
  }
}

/**
 * The part of a lease kept free at its end: a record written later could race a second
 * dispatcher's claim. One try may take a connect (5 s) and a query (10 s) of the database.
 */
const LEASE_MARGIN_MS = 20_000;

/**
 * Records a message the transport took. The database may be away for a moment (a restart, a
 * failover): the record is tried again, with growing waits, for as long as the lease keeps the
 * message from every other dispatcher; only then may it go out a second time.
 */
async function recordSent(options: DispatcherOptions, message: QueuedMessage, leaseEnds: number): Promise<void> {
  for (let wait = 250; ; wait = Math.min(wait * 2, 4000)) {
    try {
      await options.store.markMessageSent(message.id, options.clock.now());
      return;
    } catch (error) {
      if (performance.now() + wait > leaseEnds - LEASE_MARGIN_MS) throw new SentNotRecorded(error);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** Sends one claimed message and records the outcome; true when it was sent. Never throws for a failed send. */
async function deliver(options: DispatcherOptions, message: QueuedMessage): Promise<boolean> {
  const { store, clock } = options;
  const leaseEnds = performance.now() + (options.leaseMs ?? DEFAULT_LEASE_MS);
  let sent = false;
  try {
    if (hasLapsed(message, clock.now())) {
      await store.markMessageLapsed(message.id, clock.now());
      return false;
    }
    const rendered = options.renderer.render(message, messageSecrets(message, options.secret, options.publicUrl));
    await options.transports[message.channel].send(message, rendered);
    sent = true;
    await recordSent(options, message, leaseEnds);
    return true;
  } catch (error) {
    // Sent all the same: recording a failure would put it back in line at once.
    if (sent) {
      options.onError?.(error, message);
      return true;
    }
    options.onError?.(error, message);
    // Outages are retried for as long as they last; only a refusal of this very message gives up.
    const dead = isPermanent(error);
    const next = clock.now() + retryDelayMs(message.attempts, options.retryBaseMs, options.retryMaxMs);
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'delivery failed';
    await store.markMessageFailed(message.id, next, reason, dead);
    return false;
  }
}

const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_IN_FLIGHT = 20;

/** Delivers every message due now; returns how many were sent. Safe to run in several processes at once. */
export async function dispatchDueMessages(options: DispatcherOptions): Promise<number> {
  const { store, clock } = options;
  const batchSize = options.batchSize ?? DEFAULT_IN_FLIGHT;
  let sent = 0;
  for (;;) {
    const batch = await store.claimDueMessages(clock.now(), options.leaseMs ?? DEFAULT_LEASE_MS, batchSize);
    if (batch.length === 0) return sent;
    const results = await Promise.all(batch.map((message) => deliver(options, message)));
    sent += results.filter(Boolean).length;
    if (batch.length < batchSize) return sent;
  }
}

/**
 * Runs the dispatcher in the background: on a timer, and at once when a flow says messages were
 * queued. Every message is sent on its own, up to `batchSize` at once: a mail or SMS server that
 * stalls on one message holds up only that one, not the messages queued after it.
 */
export class OutboxDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private claiming: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Ids being sent here: a send outlasting its lease is not started a second time by this dispatcher. */
  private readonly sendingIds = new Set<string>();
  private again = false;
  /** Every slot was taken at the last claim: a finished send should look for more at once. */
  private full = false;
  private stopped = true;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Wakes the dispatcher now; a wake while it is claiming makes it claim once more. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Stops claiming and waits for the sends in flight to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.claiming;
    await Promise.all(this.inFlight);
  }

  /** Runs one pass now (tests and the CLI). */
  async runOnce(): Promise<number> {
    return dispatchDueMessages(this.options);
  }

  private schedule(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.claiming) return;
    this.again = false;
    this.claiming = this.claim()
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => {
        this.claiming = undefined;
        if (!this.stopped) this.schedule(this.again ? 0 : this.pollMs);
      });
    await this.claiming;
  }

  /** Claims due messages into the free slots and starts each send; returns without waiting for them. */
  private async claim(): Promise<void> {
    const { store, clock } = this.options;
    const slots = this.options.batchSize ?? DEFAULT_IN_FLIGHT;
    for (;;) {
      const free = slots - this.inFlight.size;
      this.full = free <= 0;
      if (this.full || this.stopped) return;
      const batch = await store.claimDueMessages(clock.now(), this.options.leaseMs ?? DEFAULT_LEASE_MS, free);
      for (const message of batch) {
        if (this.sendingIds.has(message.id)) continue;
        this.sendingIds.add(message.id);
        const sending: Promise<void> = deliver(this.options, message)
          .then(() => undefined, (error: unknown) => this.options.onError?.(error, message))
          .finally(() => {
            this.inFlight.delete(sending);
            this.sendingIds.delete(message.id);
            if (this.full) this.wake();
          });
        this.inFlight.add(sending);
      }
      if (batch.length < free) return;
    }
  }
}
