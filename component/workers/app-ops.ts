/**
 * The operations the main thread may ask of an app worker, in terms of the adapter contract.
 * Each returns plain data (structured-clone safe). Work that would block the XMPP thread — such as
 * encoding 100,000 records — belongs here, not in the main thread.
 */
import type { Adapter } from '../../adapters/contract.js';
import type { AppOp } from './protocol.js';
import { catalogueXml, currentCursor, historyXml, type RetentionOf } from '../quoalise/commands/encoded-answers.js';

export type AppOps = Partial<Record<AppOp, (args: never) => Promise<unknown>>>;

/**
 * `retentionOf`: the app's retention policies, carried by its get_history answers. `digests`: whether
 * answers are hashed for the transparency log (config `trace.enabled`).
 */
export function appOps(adapter: Adapter, retentionOf?: RetentionOf, digests = true): AppOps {
  return {
    ...(adapter.chat && { chat: (m: Parameters<NonNullable<Adapter['chat']>>[0]) => adapter.chat!(m) }),
    ...(adapter.history && { historyXml: (q: Parameters<typeof historyXml>[1]) => historyXml(adapter, q, retentionOf, digests) }),
    ...(adapter.catalogue && { catalogueXml: (q: Parameters<typeof catalogueXml>[1]) => catalogueXml(adapter, q) }),
    ...(adapter.extract && { currentCursor: (q: Parameters<typeof currentCursor>[1]) => currentCursor(adapter, q) }),
    ...(adapter.unsubscribed && { unsubscribed: (q: { series: string }) => adapter.unsubscribed!(q.series) }),
  };
}
