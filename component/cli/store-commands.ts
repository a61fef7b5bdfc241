/** `fedgate store import|list`: the series kept by apps of kind `store` (adapters/store/). */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { AppRegistry } from '../registry/apps.js';
import { SeriesStore, StoreDataError } from '../../adapters/store/series-store.js';
import { openStoreDatabase, storeDatabasePath } from '../../adapters/store/store-database.js';
import { CsvImportError, importCsv } from '../../adapters/store/csv-import.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { CliError, contextOf, formatTable, printJsonOrTable, printListOrTable } from './context.js';
import { isoSeconds } from './json.js';
import { describeSqliteError, isSqliteError } from '../store/sqlite-errors.js';

/** The store of an existing app of kind `store` and its file; operation error (exit 1) otherwise. */
function storeOf(cmd: Command, app: string): { store: SeriesStore; path: string } {
  const { db, config: cfg } = contextOf(cmd);
  const rec = new AppRegistry(db).get(app);
  if (!rec) throw new CliError(`no app named "${app}"`, 1);
  if (rec.kind !== 'store') throw new CliError(`app "${app}" is of kind ${rec.kind}; only apps of kind store keep series in fedgate`, 1);
  return { store: new SeriesStore(openStoreDatabase(cfg.database.path), app), path: storeDatabasePath(cfg.database.path) };
}

export function storeCommands(): Command {
  const store = new Command('store').description('the series kept in fedgate for apps of kind store');

  store
    .command('import <app> <file>')
    .description(
      'import records from a CSV file (header identifier,time,value,unit; time ISO 8601 with offset or epoch seconds). ' +
        'Metadata is read from FILE.meta.json when it exists. A file with an error imports nothing; importing twice changes nothing. ' +
        'A running gateway pushes the new records to subscribers within a second.',
    )
    .option('-m, --meta <file>', 'JSON file mapping identifiers to their Quoalise meta (default: FILE.meta.json if present)')
    .option('--json', 'machine-readable output')
    .action(async function (this: Command, app: string, file: string, o: { meta?: string; json?: boolean }) {
      const { store: s, path: storePath } = storeOf(this, app);
      if (!existsSync(file)) throw new CliError(`cannot read ${file}: no such file`, 1);
      if (o.meta !== undefined && !existsSync(o.meta)) throw new CliError(`cannot read ${o.meta}: no such file`, 1);
      let r;
      try {
        r = await importCsv(s, file, o.meta);
      } catch (err) {
        if (err instanceof CsvImportError || err instanceof StoreDataError) throw new CliError(`${file}: ${err.message}`, 1);
        // A full disk, a locked or read-only file: nothing was imported (one transaction), in one line.
        if (isSqliteError(err)) throw new CliError(`${file}: nothing imported: ${describeSqliteError(err, storePath)}`, 1);
        throw err;
      }
      printJsonOrTable(!!o.json, r, () =>
        `imported ${r.records} records of ${r.series} series into ${app}: ${r.written} written (new or corrected), ${r.unchanged} unchanged\n`,
      );
    });

  store
    .command('list <app>')
    .description('list the series of a store app with their number of records and time span')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, app: string, o: { json?: boolean }) {
      const series = storeOf(this, app).store.catalogue();
      const time = (t: number | undefined) => (t === undefined ? '' : formatIsoUtc(t));
      const rows = series.map((x) => ({ ...x, first: isoSeconds(x.first), last: isoSeconds(x.last) }));
      printListOrTable(!!o.json, rows, () =>
        series.length === 0
          ? `no series in ${app} (import some with: fedgate store import ${app} FILE.csv)\n`
          : formatTable([['IDENTIFIER', 'RECORDS', 'FIRST', 'LAST'], ...series.map((x) => [x.identifier, String(x.count), time(x.first), time(x.last)])]),
      );
    });

  return store;
}
