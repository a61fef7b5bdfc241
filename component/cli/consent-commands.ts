/**
 * `fedgate consent list|show|approve|refuse|withdraw` and `fedgate consent rule add|list|remove`: consent
 * records and automatic rules from the shell. The operator may decide any record; every decision is
 * recorded with the operator's account as evidence. A running gateway applies the effects (notifications,
 * stopped subscriptions) within a second.
 */
import { Command } from 'commander';
import { ConsentError, ConsentService, consentPolicy } from '../consent/service.js';
import { PartyError } from '../consent/parties.js';
import { CONSENT_STATES, LEGAL_BASES, parseProcessing, processingText, type ConsentRecord, type ConsentState, type EventDetails, type LegalBasis } from '../consent/model.js';
import { describeRule } from '../consent/rules.js';
import { CliError, contextOf, formatTable, instant, intArg, operation, operator, printJsonOrTable, printListOrTable, when } from './context.js';

function service(cmd: Command): ConsentService {
  const { db, config } = contextOf(cmd);
  return new ConsentService(db, consentPolicy(config.consent));
}

const guard = <T>(fn: () => T): T => operation(fn, ConsentError, PartyError);

/** An event's details for people: times in ISO 8601. */
function details(d: EventDetails): string {
  return Object.entries(d).map(([k, v]) => `${k}=${k.endsWith('until') && typeof v === 'number' ? when(v) : String(v)}`).join(' ');
}

function row(r: ConsentRecord): string[] {
  const state = r.renewalUntil !== null ? `${r.state} (renewal asked)` : r.state;
  return [String(r.id), r.app, r.requestedBy ?? r.recipient, r.series, processingText(r.processing), state, when(r.notAfter), r.subject ?? '-', r.purpose];
}

export function consentCommands(): Command {
  const cmd = new Command('consent').description('consent records: who may read which series of which app, asked over XMPP or granted; their history');

  cmd
    .command('list')
    .description('list consent records (newest 1000), oldest first')
    .option('--app <name>', 'only this app')
    .option('--state <state>', `only this state: ${CONSENT_STATES.join(', ')}`)
    .option('--subject <name>', 'only records about this data subject')
    .option('--party <jid>', 'only records whose recipient or requester is this JID')
    .option('--pending', 'only requests and renewals waiting for a decision')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { app?: string; state?: string; subject?: string; party?: string; pending?: boolean; json?: boolean }) {
      if (o.state !== undefined && !(CONSENT_STATES as readonly string[]).includes(o.state)) throw new CliError(`--state must be one of ${CONSENT_STATES.join(', ')}`, 2);
      const svc = service(this);
      const list = o.pending
        ? svc.store.awaitingDecision(o.app)
        : svc.store.list({ ...(o.app ? { app: o.app } : {}), ...(o.state ? { state: o.state as ConsentState } : {}), ...(o.subject ? { subject: o.subject } : {}), ...(o.party ? { party: o.party.toLowerCase() } : {}) });
      printListOrTable(!!o.json, list, () =>
        list.length === 0
          ? 'no consent records\n'
          : formatTable([['ID', 'APP', 'REQUESTER', 'SERIES', 'PROCESSING', 'STATE', 'UNTIL', 'SUBJECT', 'PURPOSE'], ...list.map(row)]),
      );
    });

  cmd
    .command('show <id>')
    .description('show one record and its history of events')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, id: string, o: { json?: boolean }) {
      const svc = service(this);
      const rec = guard(() => svc.find(intArg(id)));
      const events = svc.store.events(rec.id);
      const deciders = svc.parties.deciders(rec.app, rec.subject);
      printJsonOrTable(!!o.json, { ...rec, legalBasisTerm: LEGAL_BASES[rec.legalBasis], deciders, events }, () =>
        formatTable([
          ['id', String(rec.id)],
          ['app (controller)', rec.app],
          ['subject', rec.subject ?? '- (about no identified person: the app\'s owners decide)'],
          ['recipient', rec.recipient],
          ['requested by', rec.requestedBy ?? '- (a grant of the operator)'],
          ['series', rec.series],
          ['purpose', rec.purposeTerm ? `${rec.purpose} (${rec.purposeTerm})` : rec.purpose],
          ['legal basis', `${rec.legalBasis} (${LEGAL_BASES[rec.legalBasis]})`],
          ['processing', processingText(rec.processing)],
          ['notice', rec.notice || '-'],
          ['validity', `${rec.notBefore === null ? 'from when given' : when(rec.notBefore)} → ${rec.notAfter === null ? 'no end' : when(rec.notAfter)}`],
          ['retention', rec.retention ? `the recipient may keep what it receives for ${rec.retention}` : '- (the app\'s own retention only)'],
          ['state', `${rec.state} since ${when(rec.stateAt)}${rec.renewalUntil !== null ? `; renewal until ${when(rec.renewalUntil)} asked` : ''}`],
          ['decided by', deciders.join(' ') || 'the operator (CLI)'],
        ]) +
          '\n' +
          formatTable([['EVENT', 'AT', 'TYPE', 'BY', 'ROLE', 'DETAILS', 'EVIDENCE'], ...events.map((e) => [String(e.id), when(e.at), e.type, e.actor, e.role, details(e.details), JSON.stringify(e.evidence)])]),
      );
    });

  cmd
    .command('approve <id>')
    .description('approve a request (or a renewal) as the operator, optionally for a shorter time or narrower series')
    .option('--until <iso>', 'end earlier than asked, ISO 8601 with offset', instant('--until'))
    .option('--series <glob>', 'allow only part of the series asked')
    .option('--retention <period>', 'how long the recipient may keep what it receives, from the transfer (ISO 8601: P1Y, P30D); carried with the data')
    .action(function (this: Command, id: string, o: { until?: number; series?: string; retention?: string }) {
      const rec = guard(() =>
        service(this).decide(intArg(id), { approve: true, ...(o.until !== undefined ? { until: o.until } : {}), ...(o.series ? { series: o.series } : {}), ...(o.retention ? { retention: o.retention } : {}) }, operator(this)),
      );
      process.stdout.write(`consent ${rec.id} ${rec.state}: ${rec.recipient} may ${processingText(rec.processing).replace(' ', ' and ')} ${rec.series} from ${rec.app} until ${when(rec.notAfter)}\n`);
    });

  cmd
    .command('refuse <id>')
    .description('refuse a request (or a renewal) as the operator')
    .option('--reason <text>', 'told to the requester')
    .action(function (this: Command, id: string, o: { reason?: string }) {
      const rec = guard(() => service(this).decide(intArg(id), { approve: false, ...(o.reason ? { reason: o.reason } : {}) }, operator(this)));
      process.stdout.write(`consent ${rec.id} ${rec.state}\n`);
    });

  cmd
    .command('withdraw <id>')
    .description('withdraw a consent (or a request) as the operator; a running gateway stops the recipient\'s subscriptions and tells them within a second')
    .option('--reason <text>', 'told to the recipient')
    .action(function (this: Command, id: string, o: { reason?: string }) {
      const rec = guard(() => service(this).withdraw(intArg(id), operator(this), o.reason));
      process.stdout.write(`consent ${rec.id} ${rec.state}\n`);
    });

  cmd.addCommand(ruleCommands());
  return cmd;
}

function ruleCommands(): Command {
  const rule = new Command('rule').description('automatic decisions per app: the first rule matching a new request decides it');

  rule
    .command('add <app>')
    .description('add a rule, tried after the app\'s earlier rules')
    .requiredOption('--decision <d>', 'approve or refuse')
    .option('--requester <pattern>', 'a bare JID, a domain (example.net) or * (anyone)', '*')
    .option('--series <glob>', 'the request\'s series must lie within this glob', '*')
    .option('--purpose <text>', 'only requests for this purpose (exact text, case-insensitive)')
    .option('--purpose-term <dpv>', 'only requests with this DPV purpose, e.g. dpv:ResearchAndDevelopment')
    .option('--processing <list>', 'the processing a matching request may ask for: read, subscribe or both', 'read,subscribe')
    .option('--max-duration <iso>', 'approve for at most this long, e.g. P6M (ISO 8601)')
    .option('--subjects', 'also decide requests about a data subject\'s series (by default those wait for the person)')
    .option('--basis <basis>', `legal basis recorded on approval: ${Object.keys(LEGAL_BASES).join(', ')}`, 'consent')
    .action(function (this: Command, app: string, o: { decision: string; requester: string; series: string; purpose?: string; purposeTerm?: string; processing: string; maxDuration?: string; subjects?: boolean; basis: string }) {
      if (o.decision !== 'approve' && o.decision !== 'refuse') throw new CliError('--decision must be approve or refuse', 2);
      const r = guard(() =>
        service(this).rules.add({
          app,
          decision: o.decision as 'approve' | 'refuse',
          requester: o.requester,
          series: o.series,
          purpose: o.purpose ?? null,
          purposeTerm: o.purposeTerm ?? null,
          processing: parseProcessing(o.processing),
          maxDuration: o.maxDuration ?? null,
          subjects: !!o.subjects,
          legalBasis: o.basis as LegalBasis,
        }),
      );
      process.stdout.write(`added rule ${r.id} on ${r.app}: ${describeRule(r)}\n`);
    });

  rule
    .command('list [app]')
    .description('list the rules, in the order they are tried')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, app: string | undefined, o: { json?: boolean }) {
      const list = service(this).rules.list(app);
      printListOrTable(!!o.json, list, () =>
        list.length === 0 ? `no rules${app ? ` on ${app}` : ''}: every request waits for a person\n` : formatTable([['ID', 'APP', 'RULE'], ...list.map((r) => [String(r.id), r.app, describeRule(r)])]),
      );
    });

  rule
    .command('remove <id>')
    .alias('rm')
    .description('remove a rule (decisions it made stay)')
    .action(function (this: Command, id: string) {
      guard(() => service(this).rules.remove(intArg(id, 'rule id')));
      process.stdout.write(`removed rule ${id}\n`);
    });

  return rule;
}
