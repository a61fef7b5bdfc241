/**
 * The change feed's topics and what a change of each carries (schema/005_change_feed.sql writes them).
 * One entry per topic: its shape, and how it is read from a `changes` row's `key` and `detail`.
 * A new topic is a trigger (or an insert beside the write) in a migration plus an entry here; its
 * watchers subscribe with `feed.on('<topic>', …)` and get typed changes.
 */

export interface ChangeTopics {
  /** An application added, changed or removed (apps.name). */
  apps: { name: string };
  /** A consumer (flow or subscription) added, changed or removed, with the two ends it concerns. */
  consumers: { id: number; source: string; destination: string };
  /** A consent record of `app` (or an operator's grant, which is one) created or changed: an event was appended. */
  consents: { id: number; app: string };
  /** Records of `app` written by another process; `series` null when any series may have changed. */
  data: { app: string; series: string[] | null };
  /** Inbox rows of `app` made due by another process (`fedgate inbox retry`, `dead-letter retry`). */
  inbox: { app: string };
}

export type Topic = keyof ChangeTopics;

type Detail = Record<string, unknown> | null;

/** How each topic's change is read from its row. */
export const decoders: { [T in Topic]: (key: string, detail: Detail) => ChangeTopics[T] } = {
  apps: (key) => ({ name: key }),
  consumers: (key, d) => ({ id: Number(key), source: String(d?.source), destination: String(d?.destination) }),
  consents: (key, d) => ({ id: Number(key), app: String(d?.app) }),
  data: (key, d) => ({ app: key, series: Array.isArray(d?.series) ? (d.series as string[]) : null }),
  inbox: (key) => ({ app: key }),
};

/** How each topic's change is written, for the topics no trigger writes. */
export const encoders: { [T in Topic]?: (change: ChangeTopics[T]) => { key: string; detail: Detail } } = {
  consents: (c) => ({ key: String(c.id), detail: { app: c.app } }),
  data: (c) => ({ key: c.app, detail: c.series === null ? null : { series: c.series } }),
  inbox: (c) => ({ key: c.app, detail: null }),
};
