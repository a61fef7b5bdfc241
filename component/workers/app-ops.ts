/**
 * The operations the main thread may ask of an app worker, in terms of the adapter contract.
 * Each returns plain data (structured-clone safe). Work that would block the XMPP thread — such as
 * encoding 100,000 records — belongs here, not in the main thread.
 */
import type { Adapter } from '../../adapters/contract.js';
import type { AppOp } from './protocol.js';
import { catalogueXml, currentCursor, historyXml, type RetentionOf } from '../quoalise/commands/encoded-answers.js';
import type { AnswerQueue } from './answer-queue.js';

export type AppOps = Partial<Record<AppOp, (args: never) => Promise<unknown>>>;

/**
 * `retentionOf`: the app's retention policies, carried by its get_history answers. `digests`: whether
 * answers are hashed for the transparency log (config `trace.enabled`). `answers`: the queue that
 * makes get_history and list_series answers one at a time (answer-queue.ts), for the apps of a shared thread.
 */
export function appOps(adapter: Adapter, retentionOf?: RetentionOf, digests = true, answers?: AnswerQueue): AppOps {
  const oneAnswer: AnswerQueue = answers ?? ((task) => task());
  return {
    ...(adapter.chat && { chat: (m: Parameters<NonNullable<Adapter['chat']>>[0]) => adapter.chat!(m) }),
    ...(adapter.history && { historyXml: (q: Parameters<typeof historyXml>[1]) => oneAnswer(() => historyXml(adapter, q, retentionOf, digests)) }),
    ...(adapter.catalogue && { catalogueXml: (q: Parameters<typeof catalogueXml>[1]) => oneAnswer(() => catalogueXml(adapter, q)) }),
    ...(adapter.extract && { currentCursor: (q: Parameters<typeof currentCursor>[1]) => currentCursor(adapter, q) }),
    ...(adapter.unsubscribed && { unsubscribed: (q: { series: string }) => adapter.unsubscribed!(q.series) }),
  };
}
