/** How a failed adapter call is told to the requester: the contract's error kinds → stanza errors. */
import { xml } from '../xmpp/xml.js';
import { StanzaError } from '../xmpp/stanza-error.js';
import { AppCallError } from './app-host.js';
import { NS_QUOALISE } from '../quoalise/namespaces.js';

function upstream(text: string, issuer: string, code: string): StanzaError {
  return new StanzaError('undefined-condition', text, { extra: xml('upstream-error', { xmlns: NS_QUOALISE, issuer, code }) });
}

export function toStanzaError(err: unknown, app: string): StanzaError {
  if (err instanceof StanzaError) return err;
  if (!(err instanceof AppCallError)) {
    return new StanzaError('internal-server-error', 'the gateway failed to handle this request; the error was logged');
  }
  const e = err.error;
  switch (e.source) {
    case 'unavailable':
      return new StanzaError('feature-not-implemented', e.message);
    case 'timeout':
      return upstream(e.message, app, 'timeout');
    case 'crash':
      return upstream(`the application's system failed: ${e.message}`, app, 'adapter-error');
    case 'adapter':
      switch (e.kind) {
        case 'not-found':
          return new StanzaError('item-not-found', e.message);
        case 'bad-request':
          return new StanzaError('bad-request', e.message);
        case 'rate-limited':
          return new StanzaError('resource-constraint', e.message);
        case 'rejected':
          return new StanzaError('not-acceptable', e.message);
        case 'consent-invalidated':
          return new StanzaError('not-authorized', `the data subject's authorization is no longer valid: ${e.message}`);
        default:
          return upstream(e.message, e.upstream?.issuer ?? app, e.upstream?.code ?? 'error');
      }
  }
}
