/** `fedgate grant add|list|remove`: who may read which series of which app. The running gateway picks changes up within a second. */
import { Command } from 'commander';
import { GrantError, GrantStore, type Grant } from '../authz/grant-store.js';
import { formatIsoUtc, parseIsoWithOffset, TimeFormatError } from '../quoalise/time.js';
import { CliError, contextOf, formatTable, intArg, operation, printListOrTable } from './context.js';

function grants(cmd: Command): GrantStore {
  return new GrantStore(contextOf(cmd).db);
}

const wrap = <T>(fn: () => T): T => operation(fn, GrantError);

/** An ISO 8601 instant with offset, as ms since the epoch; a usage error otherwise. */
function instant(flag: string) {
  return (s: string): number => {
    try {
      return Math.round(parseIsoWithOffset(s) * 1000);
    } catch (err) {
      if (err instanceof TimeFormatError) throw new CliError(`${flag}: ${err.message}`, 2);
      throw err;
    }
  };
}

function state(g: Grant, now: number): string {
  if (g.notBefore !== null && now < g.notBefore) return 'not yet valid';
  if (g.notAfter !== null && now >= g.notAfter) return 'expired';
  return 'valid';
}

function window(g: Grant): string {
  const from = g.notBefore === null ? '' : formatIsoUtc(g.notBefore / 1000);
  const until = g.notAfter === null ? '' : formatIsoUtc(g.notAfter / 1000);
  return from || until ? `${from || '…'} → ${until || '…'}` : 'always';
}

export function grantCommands(): Command {
  const grant = new Command('grant').description('manage who may read which series of an app (deny by default)');

  grant
    .command('add <app> <requester> <series>')
    .description('let REQUESTER read SERIES from APP. REQUESTER: a bare JID (alice@example.net), a domain (example.net or *@example.net) or * (anyone). SERIES: an identifier or a glob (* and ?).')
    .option('-p, --purpose <text>', 'why the requester may read the data', '')
    .option('--from <iso>', 'valid from this instant, ISO 8601 with offset (default: now)', instant('--from'))
    .option('--until <iso>', 'valid until this instant, excluded, ISO 8601 with offset (default: no end)', instant('--until'))
    .action(function (this: Command, app: string, requester: string, series: string, o: { purpose: string; from?: number; until?: number }) {
      const g = wrap(() => grants(this).add({ app, requester, series, purpose: o.purpose, notBefore: o.from ?? null, notAfter: o.until ?? null }));
      process.stdout.write(`added grant ${g.id}: ${g.requester} may read ${g.series} from ${g.app} (${window(g)})\n`);
    });

  grant
    .command('list [app]')
    .description('list the grants, of every app or of one')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, app: string | undefined, o: { json?: boolean }) {
      const list = grants(this).list(app);
      const now = Date.now();
      printListOrTable(!!o.json, list.map((g) => ({ ...g, state: state(g, now) })), () =>
        list.length === 0
          ? `no grants${app ? ` for ${app}` : ''}: every request is refused (add one with: fedgate grant add APP REQUESTER SERIES)\n`
          : formatTable([
              ['ID', 'APP', 'REQUESTER', 'SERIES', 'VALIDITY', 'STATE', 'PURPOSE'],
              ...list.map((g) => [String(g.id), g.app, g.requester, g.series, window(g), state(g, now), g.purpose]),
            ]),
      );
    });

  grant
    .command('remove <id>')
    .alias('rm')
    .description('remove a grant; the running gateway refuses the requests it allowed within a second')
    .action(function (this: Command, id: string) {
      wrap(() => grants(this).remove(intArg(id, 'grant id')));
      process.stdout.write(`removed grant ${id}\n`);
    });

  return grant;
}
