/**
 * The one error class callers catch for anything wrong with Quoalise data: the codecs' specific errors
 * (SenmlError, IdentifierError, TimeFormatError, Sen1Error) all extend it, and its message is written for
 * the human at the other end, so it can go straight into a stanza error's `text`.
 */
export class QuoaliseFormatError extends Error {
  override name = 'QuoaliseFormatError';
}
