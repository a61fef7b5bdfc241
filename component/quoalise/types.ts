/**
 * The data model fedgate moves around: series records and their metadata.
 * Everything that crosses a module boundary (adapters, store, jobs, codec) uses these types.
 */

/** One measurement, fully resolved (no SenML base fields left). */
export interface SeriesRecord {
  /** Resolved SenML name (bn + n): the series identifier, e.g. `urn:dev:prm:00000000000000_consumption/power/active/raw`. */
  name: string;
  /** Seconds since the Unix epoch, UTC; fractional allowed. A value that covers a period is stamped at its start. */
  time: number;
  /** Numeric value (SenML `v`). A zero is a reading like any other. */
  value?: number;
  /** String value (SenML `vs`). */
  stringValue?: string;
  /** Boolean value (SenML `vb`). */
  boolValue?: boolean;
  /** Unit (SenML `u`/`bu`), e.g. `W`, `Wh`. */
  unit?: string;
}

/**
 * Quoalise metadata, as a tree: a nested key is a child element, a scalar is an attribute.
 * Always in the current generation's shape (`device`, `measurement` with flat attributes).
 */
export interface Meta {
  [key: string]: string | Meta;
}

/** One `quoalise/data` block: records sharing one metadata group. */
export interface DataBlock {
  meta: Meta;
  records: SeriesRecord[];
}

/**
 * Records of one series as rows, encoded as they are iterated: no object per record, the answer built
 * in one pass (e.g. rows read with better-sqlite3's `raw()` and `iterate()`). An adapter's `history`
 * may return these instead of DataBlocks (adapters/contract.ts).
 */
export interface RowBlock {
  meta: Meta;
  /** The series identifier: the name of every record. */
  series: string;
  /**
   * Oldest first. Iterated in one go, synchronously, once — twice when the units differ between rows
   * (the answer then carries a unit per record): make each iteration read afresh, e.g.
   * `{ [Symbol.iterator]: () => statement.iterate(…) }`.
   */
  rows: Iterable<RecordRow>;
}

/** A record as a row: epoch seconds; a number, a string or a boolean; the unit, or null for none. */
export type RecordRow = readonly [time: number, value: number | string | boolean, unit: string | null];
