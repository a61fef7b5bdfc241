/**
 * The consent commands of every app JID that serves data (XEP-0050, forms of XEP-0004, so that any
 * ad-hoc client is enough):
 *
 * - for anyone who wants data: `request_access`, `my_consents`, `renew`, `withdraw` (their own access);
 * - for the people who decide — the data subjects the app's series are about, the app's owners:
 *   `pending_requests`, `decide`, `consents`, `withdraw` (any consent about them).
 *
 * Every decision is judged by the bare JID of the stanza's sender (ConsentService); the evidence kept
 * is the stanza's id and the sender's full JID.
 */
import type { Element } from '../../xmpp/xml.js';
import { NS } from '../../xmpp/namespaces.js';
import { bareJid } from '../../xmpp/jid.js';
import { StanzaError } from '../../xmpp/stanza-error.js';
import { discoInfo } from '../../router/disco.js';
import type { IqResult } from '../../router/iq.js';
import type { AppHost } from '../../apps/app-host.js';
import { CommandRunner, note, type CommandCaller, type CommandLimits, type OwnCommand } from '../../router/command-runner.js';
import { tableForm, valuesForm } from '../../quoalise/commands/form.js';
import { addDuration } from '../duration.js';
import { isLive, isOpen, processingText, type ConsentRecord } from '../model.js';
import { xmppActor, type ConsentPolicy, type ConsentService } from '../service.js';
import { asStanzaError, iso, PROCESSING_FIELD, readId, readProcessing, readTime, RECORD_COLUMNS, recordChoice, recordRow, text } from './fields.js';

export interface ConsentCaller extends CommandCaller {
  app: string;
  appJid: string;
  host: AppHost;
}

export interface ConsentCommandsOptions {
  service: ConsentService;
  policy: ConsentPolicy;
  limits: CommandLimits;
  /** A record changed: the effects (notifications…) should run now. */
  changed(): void;
  /** More commands for the people who decide on this app (the GDPR kit's `my_data`). */
  extra?: Array<OwnCommand<ConsentCaller>>;
}

const REQUESTER_NODES = ['request_access', 'my_consents', 'renew', 'withdraw'];

function recordValues(title: string, r: ConsentRecord): Element {
  return valuesForm(title, [
    { var: 'id', label: 'Record', value: String(r.id) },
    { var: 'state', label: 'State', value: r.state },
    { var: 'series', label: 'Series', value: r.series },
    { var: 'processing', label: 'Processing', value: processingText(r.processing) },
    { var: 'until', label: 'Until', value: r.notAfter === null ? null : iso(r.notAfter) },
    { var: 'renewal_until', label: 'Renewal asked until', value: r.renewalUntil === null ? null : iso(r.renewalUntil) },
    { var: 'retention', label: 'The recipient may keep the data for', value: r.retention },
  ]);
}

export class ConsentCommands {
  private readonly runner: CommandRunner<ConsentCaller>;

  constructor(private readonly o: ConsentCommandsOptions) {
    this.runner = new CommandRunner([...this.commands(), ...(o.extra ?? [])], o.limits);
  }

  /** The command nodes (metrics label IQs by node). */
  nodes(): string[] {
    return this.runner.nodes;
  }

  /** Consent commands exist on apps that serve data. */
  handles(host: AppHost, node: string | undefined): boolean {
    return node !== undefined && this.runner.nodes.includes(node) && this.servesData(host);
  }

  features(host: AppHost): string[] {
    return this.servesData(host) ? [NS.fedgateConsent] : [];
  }

  /** disco#items on the commands node: the requester's commands, and the deciders' to those who decide. */
  items(host: AppHost, requester: string, to = host.jid): Array<{ jid: string; node: string; name: string }> {
    if (!this.servesData(host)) return [];
    const decider = this.o.service.isDecider(host.app.name, requester);
    return this.runner.nodes
      .filter((n) => decider || REQUESTER_NODES.includes(n))
      .map((node) => ({ jid: to, node, name: this.runner.get(node)!.name }));
  }

  nodeInfo(host: AppHost, requester: string, node: string | undefined): Element | null {
    const item = this.items(host, requester).find((i) => i.node === node);
    return item ? discoInfo([{ category: 'automation', type: 'command-node', name: item.name }], [NS.commands, NS.dataForms], node) : null;
  }

  execute(host: AppHost, iq: Element): IqResult | Promise<IqResult> {
    if (!host.isReady && host.capabilities.size === 0) throw new StanzaError('service-unavailable', `${host.jid} is starting; retry in a moment`, { type: 'wait' });
    const from = iq.attrs.from ?? '';
    const ctx: ConsentCaller = { from, requester: bareJid(from), stanzaId: iq.attrs.id, at: Date.now(), app: host.app.name, appJid: host.jid, host };
    const answer = this.runner.execute(host.jid, iq.getChild('command', NS.commands)!, ctx);
    this.o.changed();
    return answer;
  }

  private servesData(host: AppHost): boolean {
    return host.capabilities.has('historyXml') || host.capabilities.has('currentCursor');
  }

  private maxUntil(at: number): string {
    return iso(addDuration(at, this.o.policy.maxValidity));
  }

  private commands(): Array<OwnCommand<ConsentCaller>> {
    const svc = this.o.service;
    const actor = (c: ConsentCaller) => xmppActor(c.requester, 'requester', { id: c.stanzaId, from: c.from });
    /** The record named by the form's id, which must be one of this app's: the commands of one app never act on another's records. */
    const recordOn = (c: ConsentCaller, f: ReadonlyMap<string, string[]>): number => {
      const id = readId(f);
      const rec = svc.store.get(id);
      // One answer whether the record does not exist, is another app's, or concerns others: a stranger
      // must not learn from record ids which exist, nor to which app they belong.
      if (!rec || rec.app !== c.app || svc.roleOf(rec, c.requester) === null) {
        throw new StanzaError('item-not-found', `no consent record with id ${id} on ${c.appJid} concerns ${c.requester}`);
      }
      return id;
    };
    const deciderOnly = (node: string) => (c: ConsentCaller) => {
      if (!svc.isDecider(c.app, c.requester)) {
        throw new StanzaError('forbidden', `${c.requester} decides for no data of ${c.appJid}: only its owners and the people its series are about may use ${node}`);
      }
    };
    const decidable = (c: ConsentCaller) => svc.store.awaitingDecision(c.app).filter((r) => ['subject', 'owner'].includes(svc.roleOf(r, c.requester) ?? ''));
    const withdrawable = (c: ConsentCaller) => {
      const mine = svc.store.list({ app: c.app, party: c.requester });
      const theirs = svc.isDecider(c.app, c.requester) ? svc.decidedBy(c.app, c.requester) : [];
      const all = new Map([...mine, ...theirs].filter((r) => isOpen(r.state)).map((r) => [r.id, r]));
      return [...all.values()].sort((a, b) => a.id - b.id);
    };
    const until = (c: ConsentCaller, desc: string) => ({
      var: 'until',
      label: 'Until (excluded)',
      desc: `${desc} ISO 8601 with a UTC offset; at most ${this.o.policy.maxValidity.text} from now.`,
      value: this.maxUntil(c.at),
    });

    return [
      {
        node: 'request_access',
        name: 'Request access',
        form: (c) => ({
          instructions: `Ask for access to series of ${c.appJid}. The person the data are about (or the app's owner) decides; you are told of the decision by a message.`,
          fields: [
            { var: 'series', label: 'Series', required: true, desc: 'An identifier, or a glob (* any run of characters, ? one character), e.g. urn:dev:prm:30001442769830_*' },
            { var: 'purpose', label: 'Purpose', required: true, desc: 'Why you ask, in words shown to whoever decides.' },
            { var: 'purpose_term', label: 'DPV purpose', desc: 'Optional: the purpose as a W3C DPV term, e.g. dpv:ServiceProvision, dpv:ResearchAndDevelopment, dpv:Personalisation.' },
            PROCESSING_FIELD,
            until(c, 'Until when you ask for access.'),
            { var: 'notice', label: 'Notice', desc: 'Optional: your privacy notice, as a text or a URL, shown to whoever decides.' },
          ],
        }),
        run: (c, f) => {
          const rec = asStanzaError(() =>
            svc.request(
              c.requester,
              {
                app: c.app,
                series: text(f, 'series') ?? '',
                purpose: text(f, 'purpose') ?? '',
                purposeTerm: text(f, 'purpose_term') ?? null,
                processing: readProcessing(f),
                ...(f.has('until') ? { until: readTime(f, 'until')! } : {}),
                notice: text(f, 'notice') ?? '',
              },
              actor(c),
              c.at,
            ),
          );
          const words =
            rec.state === 'requested' ? 'waits for a decision; you will be told by a message'
            : rec.state === 'given' ? 'is approved (by a rule): you may use the data now'
            : `is ${rec.state}`;
          return [recordValues('Request access', rec), note(`Request ${rec.id} ${words}.`)];
        },
      },
      {
        node: 'my_consents',
        name: 'My consents',
        form: () => null,
        run: (c) => [tableForm('My consents', RECORD_COLUMNS, svc.store.list({ app: c.app, party: c.requester }).map(recordRow))],
      },
      {
        node: 'renew',
        name: 'Renew a consent',
        form: (c) => ({
          instructions: 'Ask to extend a consent before its end; whoever decides is asked again. The consent stays in force meanwhile.',
          fields: [
            recordChoice('Consent', 'The consent to renew.', svc.store.list({ app: c.app, party: c.requester }).filter((r) => isLive(r.state))),
            until(c, 'The new end you ask for.'),
          ],
        }),
        run: (c, f) => {
          const rec = asStanzaError(() => svc.renew(recordOn(c, f), readTime(f, 'until'), actor(c), c.at));
          return [recordValues('Renew a consent', rec), note(rec.renewalUntil !== null ? `Renewal of ${rec.id} asked: you will be told of the decision.` : `Consent ${rec.id} is ${rec.state}.`)];
        },
      },
      {
        node: 'withdraw',
        name: 'Withdraw a consent',
        form: (c) => ({
          instructions: 'End a consent or a request: your own access, or a consent about your data. It takes effect at once.',
          fields: [
            recordChoice('Consent', 'The consent or request to end.', withdrawable(c)),
            { var: 'reason', label: 'Reason', desc: 'Optional: told to the requester.' },
          ],
        }),
        run: (c, f) => {
          const rec = asStanzaError(() => svc.withdraw(recordOn(c, f), actor(c), text(f, 'reason'), c.at));
          return [recordValues('Withdraw a consent', rec), note(`Consent ${rec.id} is withdrawn.`)];
        },
      },
      {
        node: 'pending_requests',
        name: 'Pending requests',
        allow: deciderOnly('pending_requests'),
        form: () => null,
        run: (c) => [
          tableForm(
            'Pending requests',
            { id: 'Id', recipient: 'Requester', series: 'Series', purpose: 'Purpose', processing: 'Processing', until: 'Until (asked)', notice: 'Notice' },
            decidable(c).map((r) => ({ ...recordRow(r), recipient: r.requestedBy ?? r.recipient, until: iso(r.renewalUntil ?? r.notAfter), notice: r.notice, ...(r.renewalUntil !== null ? { purpose: `renewal of consent ${r.id}: ${r.purpose}` } : {}) })),
          ),
        ],
      },
      {
        node: 'decide',
        name: 'Decide on a request',
        allow: deciderOnly('decide'),
        form: (c) => ({
          instructions: 'Approve a request — for a shorter time or narrower series if you wish — or refuse it. The requester is told at once.',
          fields: [
            recordChoice('Request', 'The request to decide.', decidable(c)),
            {
              var: 'decision',
              type: 'list-single',
              label: 'Decision',
              required: true,
              desc: 'Approve or refuse.',
              options: [
                { value: 'approve', label: 'Approve' },
                { value: 'refuse', label: 'Refuse' },
              ],
            },
            { var: 'until', label: 'Until (shorter)', desc: 'Optional: end the consent earlier than asked. ISO 8601 with a UTC offset.' },
            { var: 'series', label: 'Series (narrower)', desc: 'Optional: allow only part of the series asked, e.g. one identifier of the glob.' },
            { var: 'retention', label: 'Recipient may keep it for', desc: 'Optional: how long the requester may keep what it receives, from when it receives it, as an ISO 8601 period (P1Y: one year, P30D: thirty days). It travels with the data.' },
            { var: 'reason', label: 'Reason', desc: 'Optional: told to the requester.' },
          ],
        }),
        run: (c, f) => {
          const id = recordOn(c, f);
          const decision = text(f, 'decision');
          if (decision !== 'approve' && decision !== 'refuse') throw new StanzaError('bad-request', 'decision must be approve or refuse');
          const who = { ...actor(c), role: 'subject' as const };
          const u = readTime(f, 'until');
          const s = text(f, 'series');
          const keep = text(f, 'retention');
          const rec = asStanzaError(() =>
            svc.decide(
              id,
              decision === 'approve'
                ? { approve: true, ...(u !== undefined ? { until: u } : {}), ...(s !== undefined ? { series: s } : {}), ...(keep !== undefined ? { retention: keep } : {}) }
                : { approve: false, ...(text(f, 'reason') ? { reason: text(f, 'reason')! } : {}) },
              who,
              c.at,
            ),
          );
          return [recordValues('Decide on a request', rec), note(`Request ${rec.id} is ${decision === 'approve' ? 'approved' : 'refused'}; the requester is told.`)];
        },
      },
      {
        node: 'consents',
        name: 'Consents about my data',
        allow: deciderOnly('consents'),
        form: () => null,
        run: (c) => [tableForm('Consents about my data', RECORD_COLUMNS, svc.decidedBy(c.app, c.requester).filter((r) => r.state !== 'requested').map(recordRow))],
      },
    ];
  }
}
