/**
 * `fedgate status`: is the gateway running (its pid alive and its heartbeat fresh), its link — state,
 * server, the last link error and since when — its apps with their readiness and queues. Exit 0 if
 * running, 3 if not, 4 if its process is there but its heartbeat stale (hung, stopped, unable to
 * write), 2 if the database cannot be read.
 */
import { Command } from 'commander';
import { readStatus } from '../observe/status-view.js';
import { contextOf, formatTable, printJsonOrTable, when } from './context.js';

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show whether the gateway runs, its link, the last link error, its applications and their queues')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { json?: boolean }) {
      const ctx = contextOf(this);
      const now = Date.now();
      const view = readStatus(ctx.db, { domain: ctx.config.link.domain, now });
      printJsonOrTable(!!o.json, view, () => {
        const since = (iso: string | null) => (iso ? duration(now - Date.parse(iso)) : '');
        const rows: string[][] = [
          [
            'gateway',
            view.running
              ? `running (pid ${view.pid}), up ${duration((view.uptimeSeconds ?? 0) * 1000)}`
              : view.unresponsive
                ? `not responding: its process (pid ${view.unresponsive.pid}) is there, but its heartbeat is ${view.unresponsive.heartbeatAgeSeconds} s old — hung, stopped, or unable to write its database (a full disk?)`
                : 'not running',
          ],
          ['domain', view.domain],
        ];
        if (view.running) {
          const server = view.server ? ` — ${view.server}${view.serverKind && view.serverKind !== 'unknown' ? ` (${view.serverKind})` : ''}` : '';
          rows.push(['link', `${view.link}${view.linkSince ? ` for ${since(view.linkSince)}` : ''}${server}`]);
        }
        if (view.lastLinkError) {
          const e = view.lastLinkError;
          rows.push(['last link error', `${e.reason} (${e.server}), at ${when(Date.parse(e.at))}, ${since(e.at)} ago`]);
        }
        if (view.statusPage) rows.push(['status page', view.statusPage]);
        if (view.purgeHeld) {
          const h = view.purgeHeld;
          rows.push(['retention purge', `HELD: the clock is ${h.hoursSince} h past the last purge (${when(Date.parse(h.lastPurgeAt))}); if the time is right, run fedgate retention purge`]);
        }
        const t = view.totals;
        rows.push(['queues', `${t.outbox} in the outbox, ${t.inboxPending} pending in the inbox, ${t.deadLetters} dead letter(s)`]);
        const apps = view.apps.length
          ? formatTable([
              ['APP', 'JID', 'KIND', 'STATE', 'OUTBOX', 'INBOX', 'DEAD'],
              ...view.apps.map((a) => [a.name, a.jid, a.kind, a.state, String(a.outbox), String(a.inboxPending), String(a.deadLetters)]),
            ])
          : 'no applications\n';
        // Why an app is stuck starting: its adapter's last error, as the gateway saw it.
        const failing = view.apps.filter((a) => a.startError).map((a) => `${a.name}: failed to start: ${a.startError}\n`).join('');
        return `${formatTable(rows)}\n${apps}${failing}`;
      });
      process.exitCode = view.running ? 0 : view.unresponsive ? 4 : 3;
    });
}
