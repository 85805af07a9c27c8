// A few objects of a size kept for reuse (typed-array columns whose allocation, zeroing and
// collection cost more than their use): take one at least as large as needed, give it back
// when nothing reads it any more.

export class Spares<T> {
  readonly #items: T[] = [];
  readonly #capacity: (item: T) => number;
  readonly #keep: number;
  readonly #largest: number;
  readonly #exact: boolean;

  /**
   * Keeps at most `keep` of them, each of at most `largest` capacity (`capacity(item)`).
   * `exact`: `take(n)` hands out only one of capacity exactly `n` (buffers whose size is part of
   * their layout), not any at least as large.
   */
  constructor(capacity: (item: T) => number, keep: number, largest: number, { exact = false }: { exact?: boolean } = {}) {
    this.#capacity = capacity;
    this.#keep = keep;
    this.#largest = largest;
    this.#exact = exact;
  }

  /** A kept one of capacity ≥ `n` (exactly `n` if so made), no longer kept; undefined when none fits. */
  take(n: number): T | undefined {
    const items = this.#items;
    for (let k = items.length - 1; k >= 0; k--) {
      const item = items[k]!;
      const capacity = this.#capacity(item);
      if (this.#exact ? capacity === n : capacity >= n) {
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

  /** Lets every kept one go. */
  clear(): void {
    this.#items.length = 0;
  }
}
