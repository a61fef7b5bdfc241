/**
 * XEP-0050 for fedgate's own commands (consent on app JIDs, administration on the domain's JID), made
 * for people using any ad-hoc client (Gajim, Psi, Conversations): an `execute` without a form gets
 * `status="executing"`, the command's form (list fields offer the choices that make sense for this
 * sender) and a `sessionid`; the submitted form gets the answer. A filled form in the first `execute`
 * is answered at once, for programs. `cancel` ends a session. Before anything else: the rate of the
 * sender, and of the sender's domain; sessions are bounded per sender.
 */
import { xml, type Element } from '../xmpp/xml.js';
import { NS } from '../xmpp/namespaces.js';
import { StanzaError, quoted } from '../xmpp/stanza-error.js';
import type { IqResult } from './iq.js';
import { CommandSessions } from '../quoalise/commands/sessions.js';
import { submittedValues, type FieldSpec } from '../quoalise/commands/form.js';
import { badAction, badSession, twoStep } from '../quoalise/commands/two-step.js';
import { RateLimiter } from '../timing/rate-limiter.js';
import { domainOf } from '../xmpp/jid.js';

/** Who runs a command, and when. */
export interface CommandCaller {
  /** The sender's full JID (a session belongs to it). */
  from: string;
  /** The sender's bare JID: whose rights and limits apply. */
  requester: string;
  /** The stanza's id: evidence of what was asked. */
  stanzaId: string | undefined;
  at: number;
}

/** The limits per party (the configuration's `quoalise:` section, shared by every command of the gateway). */
export interface CommandLimits {
  sessionTimeoutMs: number;
  maxSessionsPerRequester: number;
  maxSessionsPerDomain: number;
  requestsPerSecond: number;
  requestBurst: number;
  domainRequestsPerSecond: number;
  domainRequestBurst: number;
}

/** The command limits from the configuration. */
export function commandLimits(q: {
  session_timeout_seconds: number;
  max_sessions_per_requester: number;
  max_sessions_per_domain: number;
  requests_per_second: number;
  request_burst: number;
  domain_requests_per_second: number;
  domain_request_burst: number;
}): CommandLimits {
  return {
    sessionTimeoutMs: q.session_timeout_seconds * 1000,
    maxSessionsPerRequester: q.max_sessions_per_requester,
    maxSessionsPerDomain: q.max_sessions_per_domain,
    requestsPerSecond: q.requests_per_second,
    requestBurst: q.request_burst,
    domainRequestsPerSecond: q.domain_requests_per_second,
    domainRequestBurst: q.domain_request_burst,
  };
}

/**
 * The per-party limits of one set of commands (Quoalise's on the apps, consent's, administration's):
 * its two-step sessions, and the request rates of a requester and of the requester's domain.
 */
export class CommandLimiter {
  readonly sessions: CommandSessions;
  private readonly rate: RateLimiter;
  private readonly domainRate: RateLimiter;

  constructor(limits: CommandLimits) {
    this.sessions = new CommandSessions(limits.sessionTimeoutMs, { perRequester: limits.maxSessionsPerRequester, perDomain: limits.maxSessionsPerDomain });
    this.rate = new RateLimiter(limits.requestsPerSecond, limits.requestBurst);
    this.domainRate = new RateLimiter(limits.domainRequestsPerSecond, limits.domainRequestBurst);
  }

  /** Takes a request of `requester` (a bare JID); throws resource-constraint (wait) past its rate or its domain's. */
  takeRequest(requester: string, at: number): void {
    if (!this.rate.take(requester, at)) {
      throw new StanzaError('resource-constraint', `too many requests from ${requester}: at most ${this.rate.perSecond} per second; retry in ${this.rate.retryAfterMs(requester, at)} ms`);
    }
    const domain = domainOf(requester);
    if (!this.domainRate.take(domain, at)) {
      throw new StanzaError(
        'resource-constraint',
        `too many requests from ${domain}: at most ${this.domainRate.perSecond} per second from its accounts together; retry in ${this.domainRate.retryAfterMs(domain, at)} ms`,
      );
    }
  }
}

export interface OwnCommand<C extends CommandCaller> {
  node: string;
  /** Human name: the disco item and the result form's title. */
  name: string;
  /** Throws a StanzaError (forbidden…) when this caller may not run the command. */
  allow?(ctx: C): void;
  /** The form of the first step (null: no input, answered at once). */
  form(ctx: C): { instructions: string; fields: FieldSpec[] } | null;
  /** Serves the submitted form: the children of the completed command (result forms, notes). Throws StanzaError. */
  run(ctx: C, fields: ReadonlyMap<string, string[]>): Element[] | Promise<Element[]>;
}

export class CommandRunner<C extends CommandCaller> {
  private readonly limiter: CommandLimiter;
  private readonly sessions: CommandSessions;

  constructor(private readonly commands: ReadonlyArray<OwnCommand<C>>, limits: CommandLimits) {
    this.limiter = new CommandLimiter(limits);
    this.sessions = this.limiter.sessions;
  }

  get nodes(): string[] {
    return this.commands.map((c) => c.node);
  }

  get(node: string): OwnCommand<C> | undefined {
    return this.commands.find((c) => c.node === node);
  }

  private allows(c: OwnCommand<C>, ctx: C): boolean {
    try {
      c.allow?.(ctx);
      return true;
    } catch (err) {
      if (err instanceof StanzaError) return false;
      throw err;
    }
  }

  /** Answers a `command` element sent to `entity` (an app's JID, the domain): sessions do not cross entities. */
  execute(entity: string, cmd: Element, ctx: C): IqResult | Promise<IqResult> {
    const node = cmd.attrs.node ?? '';
    const action = cmd.attrs.action ?? 'execute';
    const sessionid = cmd.attrs.sessionid;
    const owner = { app: entity, node, requester: ctx.from };
    if (action === 'cancel') {
      if (sessionid === undefined || !this.sessions.take(sessionid, owner, ctx.at)) throw badSession(sessionid);
      return xml('command', { xmlns: NS.commands, node, sessionid, status: 'canceled' });
    }
    if (action === 'prev') throw badAction(`${quoted(node)} has a single step: there is no previous one`);
    if (!['execute', 'complete', 'next'].includes(action)) throw badAction(`unknown action ${quoted(action)}: use execute, complete or cancel`);
    this.limiter.takeRequest(ctx.requester, ctx.at);
    const command = this.get(node);
    if (!command) {
      // Only the commands this requester may run are named (non-admins are not shown the admin commands).
      const visible = this.commands.filter((c) => this.allows(c, ctx)).map((c) => c.node);
      throw new StanzaError('item-not-found', `${entity} has no command ${quoted(node)}${visible.length ? ` (commands: ${visible.join(', ')})` : ''}`);
    }
    command.allow?.(ctx);
    const fields = submittedValues(cmd);
    const first = twoStep(this.sessions, owner, ctx.at, sessionid, fields !== null, { name: command.name, form: () => command.form(ctx) });
    if (first) return first;
    const done = (children: Element[]) => xml('command', { xmlns: NS.commands, node, sessionid: sessionid ?? this.sessions.newId(), status: 'completed' }, ...children);
    const children = command.run(ctx, fields ?? new Map());
    return Array.isArray(children) ? done(children) : children.then(done);
  }
}

/** A note for the person (XEP-0050 §6.3): what happened, in words. */
export function note(text: string, type: 'info' | 'warn' = 'info'): Element {
  return xml('note', { type }, text);
}
