/**
 * `my_data`, an ad-hoc command of every app JID that serves data, for the people the data are about
 * (data subjects with a bound JID): one table of their series on this app (what is held: records and
 * time span), who may read them (the consents and grants in force that cover them), and who received
 * them and when (from the transparency log: messages sent, get_history answers). The person reads their
 * own series with get_history at any time, without a grant; `fedgate gdpr export` gives them all of it.
 */
import { StanzaError } from '../xmpp/stanza-error.js';
import { domainOf } from '../xmpp/jid.js';
import { note, type OwnCommand } from '../router/command-runner.js';
import { tableForm } from '../quoalise/commands/form.js';
import { parseXml } from '../quoalise/xml-parse.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { toStanzaError } from '../apps/call-errors.js';
import { patternsOverlap } from '../transfer/series-pattern.js';
import { isLive, type ConsentRecord } from '../consent/model.js';
import type { ConsentStore } from '../consent/consent-store.js';
import type { Parties } from '../consent/parties.js';
import type { ConsentCaller } from '../consent/commands/consent-commands.js';
import type { EncodedAnswer } from '../quoalise/commands/encoded-answers.js';
import type { Disclosures } from './disclosures.js';

const iso = (ms: number) => formatIsoUtc(Math.floor(ms / 1000));
const COLUMNS = { what: 'What', series: 'Series', who: 'Who', when: 'When', details: 'Details' };
/** Records about no identified subject read per answer, at most (grants covering a person's series among them). */
const MAX_GENERAL_RECORDS = 1000;
/**
 * Recipients listed per answer, at most (the most recent): one per series and JID that received it, and
 * 20,000 JIDs of a grant holder made a 7.4 MB answer. The export (`fedgate gdpr export`) has them all.
 */
export const MAX_DISCLOSURE_ROWS = 1000;

export function myDataCommand(deps: { parties: Parties; consents: ConsentStore; disclosures: Disclosures }): OwnCommand<ConsentCaller> {
  return {
    node: 'my_data',
    name: 'My data',
    allow: (c) => {
      if (deps.parties.subjectsOf(c.requester).length === 0) {
        throw new StanzaError('forbidden', `${c.requester} is not one of the people the data of this gateway are about: my_data is for them (ask its operator to declare you)`);
      }
    },
    form: () => null,
    run: async (c) => {
      const names = deps.parties.subjectsOf(c.requester);
      const globs = deps.parties.subjects().filter((s) => names.includes(s.name)).flatMap((s) => s.series);
      const rows: Array<Record<string, string>> = [];

      // What this app holds of their series.
      if (c.host.capabilities.has('catalogueXml')) {
        let answer: EncodedAnswer;
        try {
          answer = (await c.host.call('catalogueXml', { patterns: globs }, { party: domainOf(c.requester) })) as EncodedAnswer;
        } catch (err) {
          throw toStanzaError(err, c.app);
        }
        for (const s of parseXml(answer.xml).getChildren('series')) {
          const { identifier, first, last, count } = s.attrs as Record<string, string | undefined>;
          rows.push({ what: 'held here', series: identifier ?? '', who: c.appJid, when: first ? `${first} → ${last}` : '', details: count ? `${count} records` : '' });
        }
      } else {
        for (const g of globs) rows.push({ what: 'held here', series: g, who: c.appJid, when: '', details: 'this app cannot list its series' });
      }

      // Who may read them now.
      const covering = (r: ConsentRecord) =>
        isLive(r.state) && (r.notBefore === null || r.notBefore <= c.at) && (r.notAfter === null || c.at < r.notAfter) && globs.some((g) => patternsOverlap(g, r.series));
      const records = [...names.flatMap((subject) => deps.consents.list({ app: c.app, subject })), ...deps.consents.list({ app: c.app, subject: null, limit: MAX_GENERAL_RECORDS })];
      for (const r of records.filter(covering)) {
        rows.push({
          what: 'may read',
          series: r.series,
          who: r.recipient,
          when: r.notAfter === null ? 'no end' : `until ${iso(r.notAfter)}`,
          details: `${r.origin === 'grant' ? 'grant' : 'consent'} ${r.id}: ${r.purpose || 'no purpose given'} (${r.legalBasis}${r.retention ? `; may keep it ${r.retention}` : ''})`,
        });
      }

      // Who received them, and when (the transparency log, summarised a few seconds behind).
      const received = deps.disclosures.of(globs, c.app, MAX_DISCLOSURE_ROWS + 1);
      // One more than listed, to say there are more: the least recent of them left out.
      const left = received.length > MAX_DISCLOSURE_ROWS ? received.reduce((a, b) => (b.lastAt < a.lastAt ? b : a)) : undefined;
      for (const d of received) {
        if (d === left) continue;
        rows.push({
          what: d.via === 'transfer' ? 'sent to' : 'read by',
          series: d.series,
          who: d.recipient,
          when: d.firstAt === d.lastAt ? iso(d.firstAt) : `${iso(d.firstAt)} → ${iso(d.lastAt)}`,
          details: `${d.messages} ${d.via === 'transfer' ? 'message' : 'answer'}(s), ${d.records} records (log entries ${d.firstEntry}–${d.lastEntry})`,
        });
      }
      const more = left ? ` Only the ${MAX_DISCLOSURE_ROWS} most recent recipients are listed here: the export has them all.` : '';
      return [
        tableForm('My data', COLUMNS, rows),
        note(`Your series on ${c.appJid}: what is held, who may read it, who received it and when. You may read your own series with get_history at any time; ask the operator for a full copy (fedgate gdpr export) or for erasure.${more}`),
      ];
    },
  };
}
