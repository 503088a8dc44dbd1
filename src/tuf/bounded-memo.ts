// Size-bounded memo for pure derivations a warm process repeats (parsing the same bytes,
// deriving the same IDs): at most `max` entries, the oldest dropped first. Only results are
// kept, never failures, so bad input is judged afresh every time it is seen.

export class BoundedMemo<V> {
  readonly #map = new Map<string, V>();

  constructor(readonly max: number) {}

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  set(key: string, value: V): void {
    if (!this.#map.has(key) && this.#map.size >= this.max)
      this.#map.delete(this.#map.keys().next().value as string);
    this.#map.set(key, value);
  }

  /** The remembered value of `key`, else `make()` (remembered when it returns). */
  getOrMake(key: string, make: () => V): V {
    if (this.#map.has(key)) return this.#map.get(key) as V;
    const value = make();
    this.set(key, value);
    return value;
  }
}
