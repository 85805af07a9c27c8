// A few objects of a size kept for reuse (typed-array columns whose allocation, zeroing and
// collection cost more than their use): take one at least as large as needed, give it back
// when nothing reads it any more.

export class Spares<T> {
  readonly #items: T[] = [];
  readonly #capacity: (item: T) => number;
  readonly #keep: number;
  readonly #largest: number;

  /** Keeps at most `keep` of them, each of at most `largest` capacity (`capacity(item)`). */
  constructor(capacity: (item: T) => number, keep: number, largest: number) {
    this.#capacity = capacity;
    this.#keep = keep;
    this.#largest = largest;
  }

  /** A kept one of capacity ≥ `n`, no longer kept; undefined when none fits. */
  take(n: number): T | undefined {
    const items = this.#items;
    for (let k = items.length - 1; k >= 0; k--) {
      const item = items[k]!;
      if (this.#capacity(item) >= n) {
        // Out without splice (which makes an array per call).
        items[k] = items[items.length - 1]!;
        items.pop();
        return item;
      }
    }
    return undefined;
  }

  /** Keeps `item` for a later take, if there is room and it is not too large. */
  give(item: T): void {
    if (this.#items.length < this.#keep && this.#capacity(item) <= this.#largest) this.#items.push(item);
  }
}
