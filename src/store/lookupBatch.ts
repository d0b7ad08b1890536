// Gathers concurrent lookups by key into one query, so a busy instance makes one database round trip for many requests.

/**
 * Keys asked for while no query is free wait for the next one; a query only ever answers keys that
 * were asked for before it started, so every answer is read after its request arrived (a session
 * revoked before a check is never seen as active by that check).
 */
export class LookupBatch<V> {
  private pending = new Map<string, ((result: V | undefined | Error) => void)[]>();
  private running = 0;
  private scheduled = false;

  constructor(
    /** Reads the given keys; keys with no row are left out of the returned map. */
    private readonly load: (keys: string[]) => Promise<Map<string, V>>,
    /** Queries in flight at once (each holds a pooled connection). */
    private readonly maxRunning: number,
    /** Keys per query. */
    private readonly maxKeys: number,
  ) {}

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const settle = (result: V | undefined | Error) => (result instanceof Error ? reject(result) : resolve(result));
      const waiting = this.pending.get(key);
      if (waiting) waiting.push(settle);
      else this.pending.set(key, [settle]);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.maxRunning || this.pending.size === 0) return;
    this.scheduled = true;
    // After the current turn of the event loop: requests read from the network in the same turn join this query.
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    if (this.running >= this.maxRunning || this.pending.size === 0) return;
    const batch = new Map<string, ((result: V | undefined | Error) => void)[]>();
    for (const [key, waiting] of this.pending) {
      if (batch.size >= this.maxKeys) break;
      batch.set(key, waiting);
      this.pending.delete(key);
    }
    this.running += 1;
    // Started inside a promise: even a load that throws at once settles every check it holds.
    Promise.resolve([...batch.keys()]).then(this.load).then(
      (found) => this.finish(batch, (key) => found.get(key)),
      (error: unknown) => this.finish(batch, () => (error instanceof Error ? error : new Error(String(error)))),
    );
    // Room for another query: start it at once with what is left.
    if (this.pending.size > 0) this.schedule();
  }

  private finish(batch: Map<string, ((result: V | undefined | Error) => void)[]>, resultOf: (key: string) => V | undefined | Error): void {
    this.running -= 1;
    for (const [key, waiting] of batch) {
      let result: V | undefined | Error;
      try {
        result = resultOf(key);
      } catch (error) {
        result = error instanceof Error ? error : new Error(String(error));
      }
      for (const settle of waiting) settle(result);
    }
    this.schedule();
  }
}
