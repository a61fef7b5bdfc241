/**
 * XEP-0050 ad-hoc commands on the app JIDs, as Quoalise uses them: `get_history`, `subscribe`,
 * `unsubscribe` and the catalogue `list_series`, on every app whose adapter serves data.
 *
 * Both flows of quoalise.md: the filled form inside the first `execute` is answered at once; an empty
 * `execute` gets `status="executing"` with a form of defaults and a `sessionid`, and the submitted form
 * (with that sessionid) gets the answer; `cancel` ends a session. Before any adapter call, on this
 * thread: the per-requester rate limit, the command's existence for this app, and authorization (a
 * requester without any grant on the app is refused every command and sees none in disco).
 */
import { xml, type Element } from '../../xmpp/xml.js';
import { NS } from '../../xmpp/namespaces.js';
import { bareJid, domainOf } from '../../xmpp/jid.js';
import { StanzaError, quoted } from '../../xmpp/stanza-error.js';
import { RawXml, oversizedAnswer, type IqResult } from '../../router/iq.js';
import { discoInfo, discoItems } from '../../router/disco.js';
import type { AppHost } from '../../apps/app-host.js';
import type { Authorizer } from '../../authz/authorizer.js';
import type { ConsumerStore } from '../../transfer/consumers.js';
import { NS_QUOALISE } from '../namespaces.js';
import type { QuoaliseCommand } from './command.js';
import { resultForm, submittedFields } from './form.js';
import { badAction, badSession, twoStep } from './two-step.js';
import { getHistoryCommand } from './get-history.js';
import { listSeriesCommand } from './list-series.js';
import { subscribeCommand, unsubscribeCommand } from './subscriptions.js';
import { CommandSessions, type SessionOwner } from './sessions.js';
import { CommandLimiter, type CommandLimits } from '../../router/command-runner.js';
import type { Trace } from '../../trace/trace.js';
import type { AccessRecord } from './command.js';
import { formatIsoUtc } from '../time.js';
import { RefusalBudget } from './refusal-budget.js';
import type { AnswerBudget } from '../../router/answer-budget.js';

export interface QuoaliseCommandsOptions {
  authz: Authorizer;
  consumers: ConsumerStore;
  /** Config `quoalise.max_records`: a get_history range holding more is refused. */
  maxRecords: number;
  /** Config `quoalise.max_catalogue_series`: the most series one list_series answer holds (a page). */
  maxCatalogueSeries: number;
  /** The largest stanza the server accepts (the link's), null when none is known: a larger answer is refused, and logged as refused. */
  maxStanzaBytes?(): number | null;
  /** Bytes of answers each requester domain may have in the link (config `quoalise.answer_bytes_per_domain`). */
  answers?: AnswerBudget;
  /** Sessions and request rates per requester and per requester domain (config `quoalise:`, router/command-runner.ts). */
  limits: CommandLimits;
  /** Config `quoalise.max_subscriptions_per_requester` and `max_subscriptions_per_domain`. */
  maxSubscriptionsPerRequester: number;
  maxSubscriptionsPerDomain: number;
  /** The transparency log: every decision on a command is recorded there. */
  trace?: Trace;
  /**
   * The app's system says the data subject's authorization for this series is gone upstream (e.g. Enedis
   * after a change of supplier: the adapter's `consent-invalidated`): the consents it rested on end.
   */
  onConsentGone?(app: string, series: string, reason: string): void;
}

const ACTIONS = new Set(['execute', 'complete', 'next', 'prev', 'cancel']);

/** `<command status="completed">` with the result form, then the payload inline, as quoalise.md shows. */
function completed(command: QuoaliseCommand, sessionid: string, payload: string | null): IqResult {
  const el = xml('command', { xmlns: NS.commands, node: command.node, sessionid, status: 'completed' }, resultForm(command.name));
  if (payload === null) return el;
  // The payload is already serialized (in the app worker, for big answers): splice it in as text.
  const s = el.toString();
  return new RawXml(s.slice(0, -'</command>'.length) + payload + '</command>');
}

/** A domain's answers fill its room in the link: wait for them to leave. */
function answersWaiting(domain: string, answers: AnswerBudget): StanzaError {
  return new StanzaError(
    'resource-constraint',
    `answers to ${domain} are still being sent (${answers.held(domain)} bytes, quoalise.answer_bytes_per_domain is ${answers.maxBytes}): retry once they have arrived`,
  );
}

export class QuoaliseCommands {
  private readonly commands: Map<string, QuoaliseCommand>;
  private readonly limiter: CommandLimiter;
  private readonly sessions: CommandSessions;
  /** Which refusals get a log entry of their own (refusal-budget.ts). */
  private readonly refusals = new RefusalBudget();

  constructor(private readonly opts: QuoaliseCommandsOptions) {
    const { authz, consumers, maxRecords } = opts;
    const subscriptions = { authz, consumers, maxPerRequester: opts.maxSubscriptionsPerRequester, maxPerDomain: opts.maxSubscriptionsPerDomain };
    this.commands = new Map(
      [getHistoryCommand({ authz, maxRecords }), subscribeCommand(subscriptions), unsubscribeCommand(subscriptions), listSeriesCommand({ authz, maxSeries: opts.maxCatalogueSeries })].map((c) => [c.node, c]),
    );
    this.limiter = new CommandLimiter(opts.limits);
    this.sessions = this.limiter.sessions;
  }

  /** The command nodes (metrics label them by node). */
  nodes(): string[] {
    return [...this.commands.keys()];
  }

  /** Features the app adds to its disco#info: `urn:quoalise:0` when it serves data. */
  features(host: AppHost): string[] {
    return this.offered(host).length > 0 ? [NS_QUOALISE] : [];
  }

  /** disco#items on the commands node: only the commands this requester may run here. */
  items(host: AppHost, iq: Element): Element {
    const visible = this.mayUse(host, bareJid(iq.attrs.from ?? ''), Date.now()) ? this.offered(host) : [];
    return discoItems(visible.map((c) => ({ jid: iq.attrs.to ?? host.jid, node: c.node, name: c.name })), NS.commands);
  }

  /** disco#info on a command's node (XEP-0050 §2.3); null when `node` is not a command this requester may run. */
  nodeInfo(host: AppHost, iq: Element, node: string | undefined): Element | null {
    const command = node === undefined ? undefined : this.commands.get(node);
    if (!command || !this.offered(host).includes(command) || !this.mayUse(host, bareJid(iq.attrs.from ?? ''), Date.now())) return null;
    return discoInfo([{ category: 'automation', type: 'command-node', name: command.name }], [NS.commands, NS.dataForms], node);
  }

  /** Answers a `command` IQ (set) addressed to the app. Throws StanzaError. */
  async execute(host: AppHost, iq: Element): Promise<IqResult> {
    const cmd = iq.getChild('command', NS.commands)!;
    const node = cmd.attrs.node ?? '';
    const action = cmd.attrs.action ?? 'execute';
    const sessionid = cmd.attrs.sessionid;
    const from = iq.attrs.from ?? '';
    const requester = bareJid(from);
    const at = Date.now();
    const owner: SessionOwner = { app: host.app.name, node, requester: from };

    if (action === 'cancel') {
      if (sessionid === undefined || !this.sessions.take(sessionid, owner, at)) throw badSession(sessionid);
      return xml('command', { xmlns: NS.commands, node, sessionid, status: 'canceled' });
    }
    if (!ACTIONS.has(action)) throw badAction(`unknown action ${quoted(action)}: use execute, complete or cancel`);
    if (action === 'prev') throw badAction(`${quoted(node)} has a single step: there is no previous one`);

    this.limiter.takeRequest(requester, at);
    const answers = this.opts.answers;
    const domain = domainOf(requester);
    if (answers?.full(domain)) throw answersWaiting(domain, answers);
    // Before "no such command": while the app starts its capabilities are unknown, so the consent
    // commands (my_data, request_access…), routed by them, land here and got a final item-not-found.
    if (!host.isReady && host.capabilities.size === 0) {
      throw new StanzaError('service-unavailable', `${host.jid} is starting; retry in a moment`, { type: 'wait' });
    }
    const command = this.commands.get(node);
    if (!command) throw new StanzaError('item-not-found', `${host.jid} has no command ${quoted(node)} (Quoalise commands: ${[...this.commands.keys()].join(', ')})`);
    if (!this.offered(host).includes(command)) throw new StanzaError('feature-not-implemented', `${host.jid} does not offer ${node}: its application does not serve that data`);
    const access: AccessRecord = {};
    // Settled once the answer leaves (or never will): the budget counts its bytes until then.
    let leaving!: () => void;
    const sent = new Promise<void>((resolve) => (leaving = resolve));
    try {
      const result = await this.decide(command, host, cmd, { requester, at, owner, sessionid, access });
      // Too large to send: refused before the entry is written. It was logged "allowed" with its records
      // and digest, and counted among the disclosures, for data never sent.
      const over = oversizedAnswer(iq, result, this.opts.maxStanzaBytes?.() ?? null);
      // Big answers (serialized ones) take their domain's room in the link until written: checked again
      // here, where the size is known, for the calls of a burst that all started while it was empty.
      const refused = over ?? (result instanceof RawXml && answers && !answers.take(domain, result.xml.length, sent) ? answersWaiting(domain, answers) : null);
      if (refused) {
        delete access.records;
        delete access.digest;
        throw refused;
      }
      // A form of defaults (the first step of the two-step flow) decides nothing yet.
      // The answer leaves once its access entry is committed: no answer escapes the log, even through a crash.
      if (result instanceof RawXml || result?.attrs.status !== 'executing') await this.record(host, node, requester, at, access, null);
      return result;
    } catch (err) {
      if (err instanceof StanzaError) await this.record(host, node, requester, at, access, err);
      throw err;
    } finally {
      leaving();
    }
  }

  /**
   * Writes the decision to the transparency log (after the rate limit: a flood is refused before it
   * can grow the log): allowed with what was answered, or refused and why.
   */
  private async record(host: AppHost, command: string, requester: string, at: number, a: AccessRecord, err: StanzaError | null): Promise<void> {
    if (!this.opts.trace) return;
    const iso = (s: number | undefined) => (s === undefined ? undefined : formatIsoUtc(s));
    // Refusals: a budget per requester domain (refusal-budget.ts), the rest counted into the next entry.
    const budget = err === null ? { unlogged: this.refusals.drain(domainOf(requester)) } : this.refusals.take(domainOf(requester), at);
    if (budget === null) return;
    await this.opts.trace.appendCommitted(
      'access',
      {
        requester,
        app: host.app.name,
        command,
        series: a.series,
        start: iso(a.start),
        end: iso(a.end),
        outcome: err === null ? 'allowed' : err.condition === 'not-authorized' ? 'refused' : 'failed',
        reason: err === null ? undefined : `${err.condition}: ${err.message}`,
        consent: a.grant,
        subject: a.subject,
        records: a.records,
        digest: a.digest,
        unlogged: budget.unlogged || undefined,
      },
      at,
    );
  }

  private async decide(
    command: QuoaliseCommand,
    host: AppHost,
    cmd: Element,
    r: { requester: string; at: number; owner: SessionOwner; sessionid: string | undefined; access: AccessRecord },
  ): Promise<IqResult> {
    const { requester, at, owner, sessionid } = r;
    if (!this.mayUse(host, requester, at)) {
      throw new StanzaError('not-authorized', `${requester} may not use the commands of ${host.jid}: ${this.opts.authz.whyNoAccess(host.app.name, requester, at)}`);
    }

    const fields = submittedFields(cmd);
    const first = twoStep(this.sessions, owner, at, sessionid, fields !== null, { name: command.name, form: () => command.form(at) });
    if (first) return first;
    const consentGone = this.opts.onConsentGone;
    const payload = await command.run({
      host,
      requester,
      fields: fields ?? new Map(),
      command: cmd,
      at,
      access: r.access,
      ...(consentGone ? { consentGone: (series: string, reason: string) => consentGone(host.app.name, series, reason) } : {}),
    });
    return completed(command, sessionid ?? this.sessions.newId(), payload);
  }

  /** The commands this app's adapter can serve. */
  private offered(host: AppHost): QuoaliseCommand[] {
    return [...this.commands.values()].filter((c) => host.capabilities.has(c.requires));
  }

  private mayUse(host: AppHost, requester: string, at: number): boolean {
    return this.opts.authz.hasAnyGrant(host.app.name, requester, at);
  }
}
