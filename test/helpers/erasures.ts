/** Waiting, through the CLI, for a recipient to confirm the latest erasure a gateway sent (`fedgate gdpr erasures`). */
import type { Fedgate } from './fedgate.js';
import { until } from './db.js';

export interface SentErasureRequest {
  recipient: string;
  state: string;
  records?: number;
  complete?: boolean;
  entry?: number;
}

/** The latest erasure's request to `recipient`, once it is confirmed (fails after `timeoutMs`). */
export async function confirmedErasure(fg: Fedgate, recipient: string, timeoutMs = 30_000): Promise<SentErasureRequest> {
  type Listing = { rows: Array<{ requests: SentErasureRequest[] }> };
  let listing: Listing = { rows: [] };
  const request = () => listing.rows[0]?.requests.find((q) => q.recipient === recipient);
  await until(
    async () => {
      listing = JSON.parse(await fg.must('gdpr', 'erasures', '--json')) as Listing;
      return request()?.state === 'confirmed';
    },
    timeoutMs,
    () => JSON.stringify(listing),
  );
  return request()!;
}
