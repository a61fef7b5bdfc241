/**
 * A `pg` query that keeps at most `max` rows. `pg` otherwise holds every row a statement returns: an
 * operator's catalogue or history query without a LIMIT over millions of rows ended the app's thread
 * out of memory at each call (3 million rows: 742 MB, "the application worker stopped"). Past `max`,
 * the rows still arriving are neither parsed nor kept and the query fails with TooManyRowsError when
 * the server is done (bounded by statement_timeout), through pg's own path for a row it cannot parse,
 * which leaves the connection usable.
 */
import pg from 'pg';

export class TooManyRowsError extends Error {
  override name = 'TooManyRowsError';
  constructor(max: number) {
    super(`the query returned more than ${max} rows (option max_rows): bound it with a LIMIT or a narrower WHERE`);
  }
}

/** What BoundedQuery uses of pg.Query beyond its typings (pg 8's query.js). */
interface QueryInternals {
  handleDataRow(msg: unknown): void;
  _canceledDueToError: Error | false | undefined;
}

export class BoundedQuery extends pg.Query {
  private kept = 0;

  constructor(config: pg.QueryConfig | pg.QueryArrayConfig, private readonly max: number) {
    super(config);
  }

  handleDataRow(msg: unknown): void {
    const self = this as unknown as QueryInternals;
    if (this.kept >= this.max) {
      // pg skips the rest of a failed query's rows and reports this error at its end.
      self._canceledDueToError ||= new TooManyRowsError(this.max);
      return;
    }
    this.kept++;
    (pg.Query.prototype as unknown as QueryInternals).handleDataRow.call(this, msg);
  }
}
