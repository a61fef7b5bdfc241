/**
 * An HTTP answer's body, read up to a size: an upstream API is not trusted, and `response.text()`
 * would keep an endless body in memory (outside the worker's heap limit) until the time-out. Also why
 * a fetch failed, told without the error's message.
 */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

/** The body as text; past `maxBytes`, the rest is cancelled and BodyTooLargeError thrown (or, with `truncate`, what was read is returned). */
export async function readBody(response: Response, maxBytes: number, opts: { truncate?: boolean } = {}): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      if (opts.truncate) break;
      throw new BodyTooLargeError(`the answer is larger than ${maxBytes} bytes`);
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

/**
 * Why a fetch failed, for an error text: the cause's code (ECONNREFUSED, ENOTFOUND…) or the error's
 * name, never its message — undici's messages may quote the whole URL, credentials included.
 */
export function fetchFailure(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  // For callers that do not tell a time-out apart (the token request): ApiClient and webhook do.
  if (e?.name === 'TimeoutError') return 'no answer in time';
  // undici's words for a redirect loop quote no URL; its cause's name alone said "Error".
  if ((e?.cause as { message?: unknown } | undefined)?.message === 'redirect count exceeded') return 'too many redirects';
  return e?.cause?.code ?? e?.cause?.name ?? e?.name ?? 'failed';
}
