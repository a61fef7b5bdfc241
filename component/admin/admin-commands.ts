/**
 * The control channel the 2019 proof of concept lacked: XEP-0133-style ad-hoc commands on the gateway's
 * domain JID, for the admins listed in the configuration (`admins:`) — list the apps and their queues,
 * list and retry dead letters, list the consent requests waiting for a decision, show the status.
 * Anyone else gets `forbidden` and sees no command in disco.
 */
import type { Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { bareJid } from '../xmpp/jid.js';
import { StanzaError } from '../xmpp/stanza-error.js';
import { discoInfo, discoItems } from '../router/disco.js';
import type { IqResult } from '../router/iq.js';
import { CommandRunner, note, type CommandCaller, type CommandLimits, type OwnCommand } from '../router/command-runner.js';
import { tableForm, valuesForm } from '../quoalise/commands/form.js';
import type { Db } from '../store/database.js';
import type { Apps } from '../apps/apps.js';
import { DeadLetterError, DeadLetters } from '../transfer/dead-letters.js';
import type { ConsentStore } from '../consent/consent-store.js';
import type { Parties } from '../consent/parties.js';
import { iso, text } from '../consent/commands/fields.js';

export interface AdminCommandsOptions {
  domain: string;
  /** Bare JIDs (config `admins`). */
  admins: readonly string[];
  db: Db;
  apps: Apps;
  consents: ConsentStore;
  parties: Parties;
  version: string;
  startedAt: number;
  linkState(): string;
  /** A dead letter is queued again: wake the job that sends or applies it. */
  requeued(direction: 'outbound' | 'inbound', app: string, peer: string): void;
  limits: CommandLimits;
}

const NODE = (name: string) => `${NS.fedgateAdmin}#${name}`;

export class AdminCommands {
  private readonly runner: CommandRunner<CommandCaller>;
  private readonly deadLetters: DeadLetters;

  constructor(private readonly o: AdminCommandsOptions) {
    this.deadLetters = new DeadLetters(o.db);
    this.runner = new CommandRunner(this.commands(), o.limits);
  }

  /** The command nodes (metrics label IQs by node). */
  nodes(): string[] {
    return this.runner.nodes;
  }

  isAdmin(jid: string): boolean {
    return this.o.admins.includes(jid);
  }

  items(iq: Element): Element {
    const visible = this.isAdmin(bareJid(iq.attrs.from ?? '')) ? this.runner.nodes : [];
    return discoItems(visible.map((node) => ({ jid: this.o.domain, node, name: this.runner.get(node)!.name })), NS.commands);
  }

  nodeInfo(iq: Element, node: string | undefined): Element | null {
    const command = node === undefined ? undefined : this.runner.get(node);
    if (!command || !this.isAdmin(bareJid(iq.attrs.from ?? ''))) return null;
    return discoInfo([{ category: 'automation', type: 'command-node', name: command.name }], [NS.commands, NS.dataForms], node);
  }

  execute(iq: Element): IqResult | Promise<IqResult> {
    const from = iq.attrs.from ?? '';
    return this.runner.execute(this.o.domain, iq.getChild('command', NS.commands)!, { from, requester: bareJid(from), stanzaId: iq.attrs.id, at: Date.now() });
  }

  private counts(sql: string, ...args: unknown[]): Map<string, number> {
    return new Map((this.o.db.prepare(sql).raw().all(...args) as Array<[string, number]>).map(([k, n]) => [k, n]));
  }

  private commands(): Array<OwnCommand<CommandCaller>> {
    const allow = (c: CommandCaller) => {
      if (!this.isAdmin(c.requester)) throw new StanzaError('forbidden', `${c.requester} is not an admin of ${this.o.domain}: admin commands are for the JIDs listed under admins in its configuration`);
    };
    const db = this.o.db;
    const deadRows = () => this.deadLetters.list({ limit: 100 });
    return [
      {
        node: NODE('apps'),
        name: 'List apps and their queues',
        allow,
        form: () => null,
        run: () => {
          const outbox = this.counts('SELECT sender, count(*) FROM outbox GROUP BY sender');
          const inbox = this.counts("SELECT app, count(*) FROM inbox WHERE state = 'pending' GROUP BY app");
          // Outbound dead letters name the sending JID, inbound ones the app's name.
          const dead = this.counts("SELECT CASE direction WHEN 'outbound' THEN app ELSE app || '@' || ? END, count(*) FROM dead_letters GROUP BY 1", this.o.domain);
          const rows = this.o.apps.all().map((h) => ({
            app: h.app.name,
            jid: h.jid,
            kind: h.app.kind,
            state: h.isReady ? 'ready' : 'starting',
            outbox: String(outbox.get(h.jid) ?? 0),
            inbox: String(inbox.get(h.app.name) ?? 0),
            dead: String(dead.get(h.jid) ?? 0),
          }));
          return [
            tableForm('Apps and their queues', { app: 'App', jid: 'JID', kind: 'Kind', state: 'State', outbox: 'Outbox', inbox: 'Inbox (pending)', dead: 'Dead letters' }, rows),
          ];
        },
      },
      {
        node: NODE('dead-letters'),
        name: 'List dead letters',
        allow,
        form: () => null,
        run: () => [
          tableForm(
            'Dead letters (oldest 100)',
            { id: 'Id', direction: 'Direction', app: 'App', peer: 'Peer', records: 'Records', attempts: 'Attempts', died: 'Died', reason: 'Reason' },
            deadRows().map((d) => ({ id: String(d.id), direction: d.direction, app: d.app, peer: d.peer, records: String(d.records), attempts: String(d.attempts), died: iso(d.diedAt), reason: d.reason })),
          ),
        ],
      },
      {
        node: NODE('retry-dead-letter'),
        name: 'Retry a dead letter',
        allow,
        form: () => ({
          instructions: 'Put a dead letter back in its queue (attempts reset): it is sent or applied again.',
          fields: [
            {
              var: 'id',
              type: 'list-single',
              label: 'Dead letter',
              required: true,
              desc: 'The dead letter to retry.',
              options: deadRows().map((d) => ({ value: String(d.id), label: `#${d.id} ${d.direction} ${d.app} → ${d.peer}: ${d.reason}` })),
            },
          ],
        }),
        run: (_c, f) => {
          const id = Number(text(f, 'id'));
          if (!Number.isSafeInteger(id) || id <= 0) throw new StanzaError('bad-request', 'id must be the number of a dead letter');
          const dead = db.prepare('SELECT direction, app, peer FROM dead_letters WHERE id = ?').get(id) as { direction: 'outbound' | 'inbound'; app: string; peer: string } | undefined;
          let queued: number;
          try {
            queued = this.deadLetters.retry(id);
          } catch (err) {
            if (err instanceof DeadLetterError) throw new StanzaError('item-not-found', err.message);
            throw err;
          }
          this.o.requeued(dead!.direction, dead!.app, dead!.peer);
          return [valuesForm('Retry a dead letter', [{ var: 'queued', label: `Queued again (${dead!.direction === 'outbound' ? 'outbox' : 'inbox'} id)`, value: String(queued) }]), note(`Dead letter ${id} is queued again.`)];
        },
      },
      {
        node: NODE('pending-requests'),
        name: 'List pending consent requests',
        allow,
        form: () => null,
        run: () => [
          tableForm(
            'Consent requests waiting for a decision',
            { id: 'Id', app: 'App', requester: 'Requester', series: 'Series', purpose: 'Purpose', deciders: 'Decided by', asked: 'Asked' },
            this.o.consents.awaitingDecision().map((r) => ({
              id: String(r.id),
              app: r.app,
              requester: r.requestedBy ?? r.recipient,
              series: r.series,
              purpose: r.renewalUntil !== null ? `renewal: ${r.purpose}` : r.purpose,
              deciders: this.o.parties.deciders(r.app, r.subject).join(' ') || 'the operator (CLI)',
              asked: iso(r.createdAt),
            })),
          ),
        ],
      },
      {
        node: NODE('status'),
        name: 'Gateway status',
        allow,
        form: () => null,
        run: (c) => {
          const one = (sql: string) => String(db.prepare(sql).pluck().get());
          return [
            valuesForm('Gateway status', [
              { var: 'domain', label: 'Domain', value: this.o.domain },
              { var: 'version', label: 'Version', value: this.o.version },
              { var: 'uptime', label: 'Up since', value: iso(this.o.startedAt) },
              { var: 'uptime_seconds', label: 'Uptime (s)', value: String(Math.floor((c.at - this.o.startedAt) / 1000)) },
              { var: 'link', label: 'Link', value: this.o.linkState() },
              { var: 'apps', label: 'Apps', value: String(this.o.apps.all().length) },
              { var: 'outbox', label: 'Outbox messages', value: one('SELECT count(*) FROM outbox') },
              { var: 'inbox', label: 'Inbox messages pending', value: one("SELECT count(*) FROM inbox WHERE state = 'pending'") },
              { var: 'dead_letters', label: 'Dead letters', value: one('SELECT count(*) FROM dead_letters') },
              { var: 'pending_requests', label: 'Consent requests waiting', value: String(this.o.consents.awaitingDecision().length) },
            ]),
          ];
        },
      },
    ];
  }
}
