// Results arrive one message at a time; Postgres prefers them in batches. Each caller waits for the
// commit of the batch that carried its item, so a message is acknowledged only once it is stored.
export interface Batcher<T> {
  add(item: T): Promise<void>;
}

export function createBatcher<T>(flush: (items: T[]) => Promise<void>, opts: { maxBatch?: number } = {}): Batcher<T> {
  const maxBatch = opts.maxBatch ?? 500;
  const queue: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let running = false;

  async function run() {
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        try {
          await flush(batch.map((b) => b.item));
          for (const b of batch) b.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          // one bad item must not hold back the others: store them one by one
          for (const b of batch) await flush([b.item]).then(b.resolve, b.reject);
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    add(item) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (!running) void run();
      });
    },
  };
}
