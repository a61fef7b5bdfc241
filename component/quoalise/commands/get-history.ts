/** `get_history`: the records of one series in [start, end), inline after the result form. */
import type { Authorizer } from '../../authz/authorizer.js';
import { StanzaError } from '../../xmpp/stanza-error.js';
import { addPeriod, parsePeriod } from '../../gdpr/retention.js';
import { callApp, requireGrant, type QuoaliseCommand } from './command.js';
import type { EncodedAnswer, HistoryAnswerQuery } from './encoded-answers.js';
import { IDENTIFIER_FIELD, rangeFields, readIdentifier, readRange } from './request-fields.js';

export function getHistoryCommand(deps: { authz: Authorizer; maxRecords: number }): QuoaliseCommand {
  return {
    node: 'get_history',
    name: 'Get history',
    requires: 'historyXml',
    form: (at) => ({
      instructions: 'Give the series and the range to read. Times are ISO 8601 with a UTC offset; the range is half-open [start, end).',
      fields: [IDENTIFIER_FIELD, ...rangeFields(at)],
    }),
    async run(req) {
      const series = readIdentifier(req.fields);
      req.access.series = series;
      const range = readRange(req.fields);
      Object.assign(req.access, range);
      const decision = requireGrant(deps.authz, req, series);
      // One more than allowed: getting it back is how we know the range holds too many records. The
      // answer carries the app's retention, and the consent's ("the recipient may keep it…") from now.
      const keepUntil = decision.retention ? addPeriod(req.at / 1000, parsePeriod(decision.retention)) : undefined;
      const query: HistoryAnswerQuery = { series, ...range, limit: deps.maxRecords + 1, requester: req.requester, ...(keepUntil !== undefined ? { keepUntil } : {}) };
      const answer = await callApp<EncodedAnswer>(req, 'historyXml', query);
      if (answer.count > deps.maxRecords) {
        throw new StanzaError('bad-request', `narrow the range: at most ${deps.maxRecords} records per request; this range holds more`);
      }
      Object.assign(req.access, { records: answer.count, digest: answer.digest });
      return answer.xml;
    },
  };
}
