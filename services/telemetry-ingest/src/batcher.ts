// Collects items handed in one at a time (one per message handler) into batches, runs one write per
// batch and settles each item's promise with that item's outcome, so a message is acked only after the
// batch holding it committed.

export interface MicroBatcherOptions<T> {
  /** most items in one batch */
  maxSize: number;
  /** how long the first item of a batch waits for more before the batch is written anyway */
  maxWaitMs: number;
  /** batches written at once; items keep collecting meanwhile @default 2 */
  maxConcurrent?: number;
  /**
   * Write one batch. Resolve with one entry per item: undefined when it is done, an Error when that
   * item failed on its own; throw when the whole batch failed.
   */
  write: (items: T[]) => Promise<(Error | undefined)[] | void>;
}

interface Pending<T> {
  item: T;
  since: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class MicroBatcher<T> {
  private queue: Pending<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private draining = false;
  private readonly idle = new Set<() => void>();
  private readonly maxConcurrent: number;

  constructor(private readonly opts: MicroBatcherOptions<T>) {
    this.maxConcurrent = opts.maxConcurrent ?? 2;
  }

  /** Resolves once the batch holding `item` was written; rejects with that batch's (or item's) error. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, since: Date.now(), resolve, reject });
      if (this.queue.length >= this.opts.maxSize || (this.timer === undefined && this.running < this.maxConcurrent)) this.pump();
    });
  }

  /** Items waiting for a batch. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Write whatever is queued now and wait until no batch is running. */
  async flush(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 || this.running > 0) {
        this.pump();
        await new Promise<void>((r) => this.idle.add(r));
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Start batches while a slot is free and a batch is due (full, or its oldest item waited long
   * enough); otherwise arm the timer for when the oldest item is due. With every slot busy there is no
   * timer: the batch that finishes pumps again.
   */
  private pump() {
    const now = Date.now();
    const { maxSize, maxWaitMs } = this.opts;
    while (
      this.running < this.maxConcurrent &&
      this.queue.length > 0 &&
      (this.draining || this.queue.length >= maxSize || now - this.queue[0]!.since >= maxWaitMs)
    ) {
      const batch = this.queue.splice(0, maxSize);
      this.running++;
      void this.run(batch);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length > 0 && this.running < this.maxConcurrent) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, Math.max(0, this.queue[0]!.since + maxWaitMs - now));
    }
  }

  private async run(batch: Pending<T>[]) {
    try {
      const outcomes = await this.opts.write(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const err = outcomes ? outcomes[i] : undefined;
        if (err) p.reject(err);
        else p.resolve();
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.running--;
      this.pump();
      for (const r of this.idle) r();
      this.idle.clear();
    }
  }
}
