/** `fedgate status`: is the gateway running, is its link up, which apps does it serve. Exit 0 if running, 3 if not. */
import { Command } from 'commander';
import { AppRegistry } from '../registry/apps.js';
import { isAlive, readRuntimeStatus } from '../runtime-status.js';
import { contextOf, formatTable, printJsonOrTable } from './context.js';

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show whether the gateway runs, its link state, uptime and applications')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { json?: boolean }) {
      const ctx = contextOf(this);
      const rt = readRuntimeStatus(ctx.db);
      const running = !!rt && isAlive(rt);
      const apps = new AppRegistry(ctx.db).list().map((a) => ({ name: a.name, jid: `${a.name}@${ctx.config.link.domain}`, kind: a.kind }));
      const now = Date.now();
      const view = {
        running,
        domain: ctx.config.link.domain,
        pid: running ? rt!.pid : null,
        uptimeSeconds: running ? Math.floor((now - rt!.startedAt) / 1000) : null,
        link: running ? rt!.linkState : 'offline',
        linkUpSeconds: running && rt!.linkSince ? Math.floor((now - rt!.linkSince) / 1000) : null,
        apps,
      };
      printJsonOrTable(!!o.json, view, () => {
        const head = running
          ? formatTable([
              ['gateway', `running (pid ${view.pid}), up ${duration(now - rt!.startedAt)}`],
              ['domain', view.domain],
              ['link', view.link + (rt!.linkSince ? ` for ${duration(now - rt!.linkSince)}` : '')],
            ])
          : formatTable([['gateway', 'not running'], ['domain', view.domain]]);
        const list = apps.length ? formatTable([['APP', 'JID', 'KIND'], ...apps.map((a) => [a.name, a.jid, a.kind])]) : 'no applications\n';
        return `${head}\n${list}`;
      });
      process.exitCode = running ? 0 : 3;
    });
}
