/**
 * XEP-0050 pieces shared by every command fedgate answers (Quoalise, consent, admin): its errors, and the
 * middle of the two-step flow: with a `sessionid`,
 * the session must be open (and belong to this sender) and the form submitted; without one and without
 * a submitted form, the command's form (if it has one) opens a session. Returns the `executing` answer
 * to send, or null when the command should now run.
 */
import { xml, type Element } from '../../xmpp/xml.js';
import { NS } from '../../xmpp/namespaces.js';
import { StanzaError, quoted } from '../../xmpp/stanza-error.js';
import { formElement, type FieldSpec } from './form.js';
import type { CommandSessions, SessionOwner } from './sessions.js';

/** A session that is not there (or not this sender's): XEP-0050's bad-sessionid. */
export function badSession(id: string | undefined): StanzaError {
  return new StanzaError('bad-request', id === undefined ? 'cancel needs the sessionid of the command to cancel' : `no open session ${quoted(id)}: it expired, was completed or cancelled, or belongs to someone else; execute the command again`, {
    extra: xml('bad-sessionid', { xmlns: NS.commands }),
  });
}

/** An action a one-step command cannot take: XEP-0050's bad-action. */
export function badAction(text: string): StanzaError {
  return new StanzaError('bad-request', text, { extra: xml('bad-action', { xmlns: NS.commands }) });
}

/** The two-step middle (see the header): an `executing` answer to send, or null to run the command. */
export function twoStep(
  sessions: CommandSessions,
  owner: SessionOwner,
  at: number,
  sessionid: string | undefined,
  submitted: boolean,
  command: { name: string; form(): { instructions: string; fields: FieldSpec[] } | null },
): Element | null {
  if (sessionid !== undefined) {
    // Checked before the session is taken: a completion without its form leaves the session open for the right one.
    if (!submitted) throw new StanzaError('bad-request', `submit the form of ${owner.node} (an x element of type submit) with this sessionid`);
    if (!sessions.take(sessionid, owner, at)) throw badSession(sessionid);
    return null;
  }
  if (submitted) return null;
  const form = command.form();
  if (form === null) return null;
  return xml(
    'command',
    { xmlns: NS.commands, node: owner.node, sessionid: sessions.start(owner, at), status: 'executing' },
    xml('actions', { execute: 'complete' }, xml('complete')),
    formElement(command.name, form.instructions, form.fields),
  );
}
