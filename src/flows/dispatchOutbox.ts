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

/** Delivers every message due now; returns how many were sent. Safe to run in several processes at once. */
export async function dispatchDueMessages(options: DispatcherOptions): Promise<number> {
  const { store, clock } = options;
  const leaseMs = options.leaseMs ?? 60_000;
  let sent = 0;
  for (;;) {
    const batch = await store.claimDueMessages(clock.now(), leaseMs, options.batchSize ?? 20);
    if (batch.length === 0) return sent;
    await Promise.all(
      batch.map(async (message) => {
        try {
          if (hasLapsed(message, clock.now())) {
            await store.markMessageLapsed(message.id, clock.now());
            return;
          }
          const rendered = options.renderer.render(message, messageSecrets(message, options.secret, options.publicUrl));
          await options.transports[message.channel].send(message, rendered);
          await store.markMessageSent(message.id, clock.now());
          sent += 1;
        } catch (error) {
          options.onError?.(error, message);
          // Outages are retried for as long as they last; only a refusal of this very message gives up.
          const dead = isPermanent(error);
          const next = clock.now() + retryDelayMs(message.attempts, options.retryBaseMs, options.retryMaxMs);
          const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'delivery failed';
          await store.markMessageFailed(message.id, next, reason, dead);
        }
      }),
    );
    if (batch.length < (options.batchSize ?? 20)) return sent;
  }
}

/** Runs the dispatcher in the background: on a timer, and at once when a flow says messages were queued. */
export class OutboxDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Wakes the dispatcher now; a wake during a run makes it run once more. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
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
    if (this.stopped || this.running) return;
    this.again = false;
    this.running = dispatchDueMessages(this.options)
      .then(() => undefined)
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.again ? 0 : this.pollMs);
      });
    await this.running;
  }
}
