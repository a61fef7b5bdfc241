/**
 * `list_series`: the catalogue no provider of the federation had — the series of the app this requester
 * may read, with their metadata and time span, a page at a time (catalogue-page.ts). It takes no form: the
 * first `execute` is answered at once.
 */
import type { Authorizer } from '../../authz/authorizer.js';
import { callApp, type QuoaliseCommand } from './command.js';
import type { EncodedAnswer } from './encoded-answers.js';
import { readPage } from './catalogue-page.js';

export function listSeriesCommand(deps: { authz: Authorizer; maxSeries: number }): QuoaliseCommand {
  return {
    node: 'list_series',
    name: 'List series',
    requires: 'catalogueXml',
    form: () => null,
    async run(req) {
      const page = readPage(req.command, deps.maxSeries);
      const patterns = deps.authz.visibleSeriesPatterns(req.host.app.name, req.requester, req.at);
      const answer = await callApp<EncodedAnswer>(req, 'catalogueXml', { patterns, page });
      Object.assign(req.access, { records: answer.count, digest: answer.digest });
      return answer.xml;
    },
  };
}
