/**
 * Routing: every stanza the link receives lands here and goes to exactly one place — the domain
 * entity, an application, or the RFC 6120 §10.5.3.1 answer for an address that does not exist.
 */
import { escapeAttr, escapeText, type CleanXml, type Element } from '../xmpp/xml.js';
import { domainOf, parseJid } from '../xmpp/jid.js';
import { StanzaError, answerable, errorReply } from '../xmpp/stanza-error.js';
import { answerIq, iqPayload, type IqHandlers } from './iq.js';
import { NS } from '../xmpp/namespaces.js';
import type { IqObserver } from '../observe/metrics.js';
import { appHandlers } from './app-entity.js';
import { toStanzaError } from '../apps/call-errors.js';
import type { Apps } from '../apps/apps.js';
import type { AppHost } from '../apps/app-host.js';
import type { PresenceService } from './presence.js';
import { dataPayload, type Intake } from '../transfer/intake.js';
import type { SendBridge } from '../delivery/send-bridge.js';
import type { ControlIntake } from '../gdpr/control-intake.js';
import type { QuoaliseCommands } from '../quoalise/commands/ad-hoc.js';
import type { AppIqs } from '../apps/app-iqs.js';
import type { ConsentCommands } from '../consent/commands/consent-commands.js';
import type { Logger } from '../log/logger.js';

export interface RouterOptions {
  domain: string;
  apps: Apps;
  presence: PresenceService;
  intake: Intake;
  /** Erasure requests and confirmations (urn:fedgate:gdpr:0) for our apps. */
  control?: ControlIntake;
  delivery: SendBridge;
  /** The Quoalise ad-hoc commands every app JID answers. */
  commands: QuoaliseCommands;
  /** IQs sent by adapters: answers addressed to an app go there. */
  iqs?: AppIqs;
  /** The consent commands of the app JIDs that serve data. */
  consent?: ConsentCommands;
  domainIq: IqHandlers;
  send(el: Element | string | CleanXml): boolean;
  /** The largest stanza the server accepts (null: no limit): larger IQ answers become errors. */
  maxStanzaBytes(): number | null;
  observer: IqObserver;
  log: Logger;
}

/**
 * What an IQ asks, for the metrics: an ad-hoc command's node, or the payload's namespace — only for
 * requests we handle, so that a remote party cannot create label values at will.
 */
function requestLabel(iq: Element, handled: boolean): string {
  if (!handled) return 'unhandled';
  const payload = iqPayload(iq);
  const ns = payload?.attrs.xmlns ?? 'none';
  return ns === NS.commands ? `command:${payload?.attrs.node ?? ''}` : ns;
}

/** The start of a stanza for a log line; never throws (a stanza that broke its handler may break toString too). */
function preview(el: Element): string {
  try {
    return el.toString().slice(0, 500);
  } catch {
    return `<${el.name} from="${el.attrs.from ?? ''}" to="${el.attrs.to ?? ''}" id="${el.attrs.id ?? ''}">…`;
  }
}

export class Router {
  private appIq = new WeakMap<AppHost, IqHandlers>();
  /** While stopping, new requests are refused rather than half-served. */
  accepting = true;

  constructor(private readonly opts: RouterOptions) {}

  /** Routes one stanza. Whatever goes wrong is answered (or logged), never thrown at the link. */
  route(el: Element): void {
    try {
      // Too large or too deep a stanza never gets here: the link's parser cut it short (xmpp/bounded-parser.ts).
      this.dispatch(el);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).stack ?? String(err), stanza: preview(el) }, 'stanza handling failed');
      if (answerable(el)) this.opts.send(errorReply(el, new StanzaError('internal-server-error', 'the gateway failed to handle this stanza; the error was logged')));
    }
  }

  private dispatch(el: Element): void {
    const to = parseJid(el.attrs.to ?? '');
    const { domain } = this.opts;
    if (!to || to.domain !== domain) return this.noSuchEntity(el, 'this gateway serves only its own domain');
    // A sender we cannot read as a JID is nobody: never an identity, a party or a key of a limit (the
    // server's nameprep may accept a spelling ours does not, and the raw string, resource and all, would
    // then be compared as a requester). Its requests and messages get jid-malformed, the rest is dropped.
    if (!parseJid(el.attrs.from ?? '')) {
      if (el.attrs.from && answerable(el)) this.opts.send(errorReply(el, new StanzaError('jid-malformed', 'the sender\'s address is not a JID this gateway can read')));
      return;
    }
    if (!to.local) {
      if (el.name === 'iq') return this.iq(el, this.opts.domainIq.find(el));
      if (el.name === 'presence') return this.opts.presence.handle(null, el);
      return; // messages to the domain itself carry nothing for us
    }
    const host = this.opts.apps.get(to.local);
    if (!host) return this.noSuchEntity(el, `no application named ${to.local} on ${domain}`);
    if (el.name === 'iq') {
      if (el.attrs.type === 'result' || el.attrs.type === 'error') return void this.opts.iqs?.onAnswer(el);
      return this.iq(el, this.handlersFor(host).find(el));
    }
    if (el.name === 'presence') return this.opts.presence.handle(host.app.name, el);
    return this.message(host, el);
  }

  private iq(el: Element, handler: ReturnType<IqHandlers['find']>): void {
    const type = el.attrs.type;
    if (type === 'result' || type === 'error') return; // results and errors are never answered
    if (type !== 'get' && type !== 'set') {
      // RFC 6120 §8.3.3.1: an IQ of no known type is a bad request (a GET in capitals included).
      this.opts.send(errorReply(el, new StanzaError('bad-request', `an iq's type is get, set, result or error, not "${String(type ?? '').slice(0, 20)}"`)));
      return;
    }
    if (!this.accepting) {
      this.opts.send(errorReply(el, new StanzaError('service-unavailable', 'the gateway is shutting down; retry shortly', { type: 'wait' })));
      return;
    }
    const t0 = performance.now();
    const request = requestLabel(el, handler !== undefined);
    void answerIq(el, handler, (r) => void this.opts.send(r), this.opts.log, this.opts.maxStanzaBytes()).then((outcome) =>
      this.opts.observer.iqAnswered(request, outcome, performance.now() - t0),
    );
  }

  private message(host: AppHost, el: Element): void {
    const type = el.attrs.type ?? 'normal';
    // Outcomes of what we sent: bounces and receipts belong to the send job.
    if (type === 'error') return void this.opts.delivery.onBounce(el);
    if (this.opts.delivery.onConfirmation(el)) return;
    if (type === 'groupchat' || type === 'headline') return;
    const data = dataPayload(el);
    const control = !data && this.opts.control?.handles(el);
    if (data || control) {
      if (!this.accepting) {
        this.opts.send(errorReply(el, new StanzaError('service-unavailable', 'the gateway is shutting down; retry shortly', { type: 'wait' })));
        return;
      }
      return data ? this.opts.intake.accept(host, el, data) : this.opts.control!.accept(host, el);
    }
    const body = el.getChildText('body');
    if (body === null) return; // chat states, receipts for nothing we sent, etc.
    // Never answer our own domain (an app, or a forged `from`): two answering entities would loop.
    if (parseJid(el.attrs.from ?? '')?.domain === this.opts.domain) {
      this.opts.log.debug({ from: el.attrs.from, to: el.attrs.to }, 'not answering a chat from our own domain');
      return;
    }
    if (!this.accepting) {
      this.opts.send(errorReply(el, new StanzaError('service-unavailable', 'the gateway is shutting down; retry shortly', { type: 'wait' })));
      return;
    }
    host.call('chat', { from: el.attrs.from ?? '', body }, { party: domainOf(el.attrs.from ?? '') }).then(
      (reply) => {
        if (typeof reply !== 'string') return;
        // Built as text: this is the hot path of a chatty app, and the shape is fixed.
        const thread = el.getChildText('thread');
        const id = el.attrs.id ? ` id="${escapeAttr(`${el.attrs.id}-r`)}"` : '';
        this.opts.send(
          `<message from="${escapeAttr(el.attrs.to ?? '')}" to="${escapeAttr(el.attrs.from ?? '')}" type="${escapeAttr(type)}"${id}>` +
            `<body>${escapeText(reply)}</body>${thread ? `<thread>${escapeText(thread)}</thread>` : ''}</message>`,
        );
      },
      (err: unknown) => this.opts.send(errorReply(el, toStanzaError(err, host.app.name))),
    );
  }

  /** RFC 6120 §10.5.3.1: IQ → service-unavailable, message → error, presence → ignored. */
  private noSuchEntity(el: Element, text: string): void {
    if (el.name === 'presence') return;
    if (el.name === 'iq' && el.attrs.type !== 'get' && el.attrs.type !== 'set') return;
    if (el.name === 'message' && el.attrs.type === 'error') return;
    this.opts.send(errorReply(el, new StanzaError('service-unavailable', text)));
  }

  private handlersFor(host: AppHost): IqHandlers {
    let h = this.appIq.get(host);
    if (!h) this.appIq.set(host, (h = appHandlers(host, this.opts.commands, this.opts.consent)));
    return h;
  }
}
