/** `fedgate grant add|list|remove`: who may read which series of which app. The running gateway picks changes up within a second. */
import { Command } from 'commander';
import { GrantError, GrantStore, type Grant } from '../authz/grant-store.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { LEGAL_BASES, parseProcessing, type LegalBasis } from '../consent/model.js';
import { CliError, contextOf, formatTable, instant, intArg, operation, operator, printListOrTable } from './context.js';

function grants(cmd: Command): GrantStore {
  return new GrantStore(contextOf(cmd).db);
}

const wrap = <T>(fn: () => T): T => operation(fn, GrantError);

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

function legalBasis(s: string): LegalBasis {
  if (!(s in LEGAL_BASES)) throw new CliError(`--basis must be one of ${Object.keys(LEGAL_BASES).join(', ')}`, 2);
  return s as LegalBasis;
}

export function grantCommands(): Command {
  const grant = new Command('grant').description('manage who may read which series of an app (deny by default)');

  grant
    .command('add <app> <requester> <series>')
    .description('let REQUESTER read SERIES from APP. REQUESTER: a bare JID (alice@example.net), a domain (example.net or *@example.net) or * (anyone). SERIES: an identifier or a glob (* and ?).')
    .option('-p, --purpose <text>', 'why the requester may read the data', '')
    .option('--from <iso>', 'valid from this instant, ISO 8601 with offset (default: now)', instant('--from'))
    .option('--until <iso>', 'valid until this instant, excluded, ISO 8601 with offset (default: no end)', instant('--until'))
    .option('--basis <basis>', `legal basis: ${Object.keys(LEGAL_BASES).join(', ')} (default: public-task for *, contract otherwise)`, legalBasis)
    .option('--processing <list>', 'read, subscribe or both (comma-separated)', 'read,subscribe')
    .option('--retention <period>', 'how long the requester may keep what it receives, from the transfer (ISO 8601: P1Y, P30D); carried with the data')
    .action(function (this: Command, app: string, requester: string, series: string, o: { purpose: string; from?: number; until?: number; basis?: LegalBasis; processing: string; retention?: string }) {
      const processing = parseProcessing(o.processing);
      if (processing.length === 0) throw new CliError('--processing must name read, subscribe or both', 2);
      const g = wrap(() =>
        grants(this).add(
          { app, requester, series, purpose: o.purpose, notBefore: o.from ?? null, notAfter: o.until ?? null, processing, ...(o.basis ? { legalBasis: o.basis } : {}), ...(o.retention ? { retention: o.retention } : {}) },
          operator(this),
        ),
      );
      process.stdout.write(`added grant ${g.id}: ${g.requester} may ${g.processing.includes('read') ? 'read' : 'subscribe to'} ${g.series} from ${g.app} (${window(g)}; ${g.legalBasis})\n`);
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
              ['ID', 'APP', 'REQUESTER', 'SERIES', 'VALIDITY', 'STATE', 'BASIS', 'PURPOSE'],
              ...list.map((g) => [String(g.id), g.app, g.requester, g.series, window(g), state(g, now), g.legalBasis, g.purpose]),
            ]),
      );
    });

  grant
    .command('remove <id>')
    .alias('rm')
    .description('end a grant (its record is withdrawn, its history kept); the running gateway refuses the requests it allowed, and stops the subscriptions, within a second')
    .action(function (this: Command, id: string) {
      wrap(() => grants(this).remove(intArg(id, 'grant id'), operator(this)));
      process.stdout.write(`removed grant ${id}\n`);
    });

  return grant;
}
