/**
 * The gateway's Prometheus metrics that live in the main thread's memory: the link, stanzas, IQ
 * answers, adapter calls, deliveries. Queue sizes, flow counters and the like are read from SQLite at
 * scrape time by the observe worker (observe-worker.ts), off the XMPP thread.
 *
 * The parts of the gateway report through small typed interfaces (IqObserver, AdapterObserver,
 * DeliveryObserver); with metrics off they get NO_METRICS, which does nothing.
 *
 * Label values come only from bounded sets — our apps, our destinations, known commands, RFC error
 * conditions — never from free text a remote party chooses: every label set costs memory forever.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Link } from '../xmpp/link.js';
import type { Apps } from '../apps/apps.js';
import { BoundedLabels } from './bounded-labels.js';

/** IQ answers: `request` is a command node or a payload namespace; `outcome` is `result` or an error condition. */
export interface IqObserver {
  iqAnswered(request: string, outcome: string, ms: number): void;
}

/** Calls from the main thread to an app's adapter (component/apps/app-host.ts). */
export interface AdapterObserver {
  /** `outcome`: `ok`, or the failure's source (`adapter`, `timeout`, `crash`, `unavailable`…). */
  adapterCall(app: string, op: string, outcome: string, ms: number): void;
}

/**
 * What the send path reports (component/delivery/), from the send bridge's 'delivered' event: messages
 * delivered, and for each the time from its (last) sending to its confirmation by the destination.
 */
export interface DeliveryObserver {
  delivered(destination: string, messages: number): void;
  observeConfirmation(destination: string, ms: number): void;
}

export interface Observers extends IqObserver, AdapterObserver, DeliveryObserver {}

/** Metrics off: nothing is counted. */
export const NO_METRICS: Observers = {
  iqAnswered() {},
  adapterCall() {},
  delivered() {},
  observeConfirmation() {},
};

const STANZA_KINDS = ['iq', 'message', 'presence'] as const;
/** Error conditions of RFC 6120 §8.3.3 (and `result`): anything else is counted as `other`. */
const OUTCOMES = new Set([
  'result', 'bad-request', 'conflict', 'feature-not-implemented', 'forbidden', 'gone', 'internal-server-error', 'item-not-found',
  'jid-malformed', 'not-acceptable', 'not-allowed', 'not-authorized', 'policy-violation', 'recipient-unavailable', 'redirect',
  'registration-required', 'remote-server-not-found', 'remote-server-timeout', 'resource-constraint', 'service-unavailable',
  'subscription-required', 'undefined-condition', 'unexpected-request',
]);

/**
 * A counter whose value is kept elsewhere (a field of the link): at each scrape it is advanced by
 * what the source counted since the last one.
 */
function mirroredCounter(registry: Registry, name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>): void {
  const seen = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const delta = value - (seen.get(key) ?? 0);
        if (delta > 0) this.inc(labels, delta);
        seen.set(key, value);
      }
    },
  });
}

export class GatewayMetrics implements Observers {
  readonly registry = new Registry();
  private readonly iqAnswers: Counter<'request' | 'outcome'>;
  private readonly iqSeconds: Histogram<'request'>;
  private readonly adapterCalls: Counter<'app' | 'op' | 'outcome'>;
  private readonly adapterSeconds: Histogram<'app' | 'op'>;
  private readonly deliveredMessages: Counter<'destination'>;
  private readonly confirmationSeconds: Histogram<'destination'>;

  constructor(sources: { link: Link; apps: Apps; commandNodes: readonly string[]; startedAt: number }) {
    const { link, apps } = sources;
    const registers = [this.registry];
    this.commands = new Set(sources.commandNodes);
    collectDefaultMetrics({ register: this.registry, prefix: 'fedgate_' });

    new Gauge({ name: 'fedgate_start_time_seconds', help: 'When this gateway process started (Unix time)', registers }).set(sources.startedAt / 1000);
    new Gauge({
      name: 'fedgate_link_up',
      help: '1 when the XEP-0114 link to the server is online',
      registers,
      collect() {
        this.set(link.isOnline ? 1 : 0);
      },
    });
    mirroredCounter(this.registry, 'fedgate_link_connects_total', 'Successful connections of the link (the first one included)', [], () => [[{}, link.connects]]);
    mirroredCounter(this.registry, 'fedgate_link_failures_total', 'Connections lost or attempts that failed (refused, reset, closed, timed out)', [], () => [[{}, link.failures]]);
    mirroredCounter(this.registry, 'fedgate_stanzas_in_total', 'Stanzas received from the server, by kind', ['kind'], () =>
      STANZA_KINDS.map((k) => [{ kind: k }, link.counts.in[k]]),
    );
    mirroredCounter(this.registry, 'fedgate_stanzas_out_total', 'Stanzas sent to the server, by kind', ['kind'], () =>
      STANZA_KINDS.map((k) => [{ kind: k }, link.counts.out[k]]),
    );
    new Gauge({
      name: 'fedgate_apps',
      help: 'Applications served, by state of their worker',
      labelNames: ['state'],
      registers,
      collect() {
        const counts: Record<string, number> = { starting: 0, ready: 0, stopping: 0, stopped: 0 };
        for (const h of apps.all()) counts[h.status] = (counts[h.status] ?? 0) + 1;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'fedgate_app_ready',
      help: '1 when the application worker is ready, 0 while it starts or restarts',
      labelNames: ['app'],
      registers,
      collect() {
        this.reset();
        for (const h of apps.all()) this.set({ app: h.app.name }, h.isReady ? 1 : 0);
      },
    });

    this.iqAnswers = new Counter({ name: 'fedgate_iq_answers_total', help: 'IQ requests answered, by request (command node or namespace) and outcome (result or error condition)', labelNames: ['request', 'outcome'], registers });
    this.iqSeconds = new Histogram({
      name: 'fedgate_iq_duration_seconds',
      help: 'Time from an IQ request to its answer, by request',
      labelNames: ['request'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.adapterCalls = new Counter({ name: 'fedgate_adapter_calls_total', help: 'Calls to application adapters, by app, operation and outcome (ok or the failure)', labelNames: ['app', 'op', 'outcome'], registers });
    this.adapterSeconds = new Histogram({
      name: 'fedgate_adapter_call_duration_seconds',
      help: 'Duration of calls to application adapters, by app and operation',
      labelNames: ['app', 'op'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers,
    });
    this.deliveredMessages = new Counter({ name: 'fedgate_delivered_messages_total', help: 'Outbox messages whose delivery the destination confirmed, by destination', labelNames: ['destination'], registers });
    this.confirmationSeconds = new Histogram({
      name: 'fedgate_delivery_confirmation_seconds',
      help: 'Time from sending a message to its confirmation by the destination, by destination',
      labelNames: ['destination'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
  }

  private readonly commands: Set<string>;

  iqAnswered(request: string, outcome: string, ms: number): void {
    const r = request.startsWith('command:') && !this.commands.has(request.slice(8)) ? 'command:other' : request;
    this.iqAnswers.inc({ request: r, outcome: OUTCOMES.has(outcome) ? outcome : 'other' });
    this.iqSeconds.observe({ request: r }, ms / 1000);
  }

  adapterCall(app: string, op: string, outcome: string, ms: number): void {
    this.adapterCalls.inc({ app, op, outcome });
    this.adapterSeconds.observe({ app, op }, ms / 1000);
  }

  delivered(destination: string, messages: number): void {
    this.deliveredMessages.inc({ destination: this.destinations.of(destination) }, messages);
  }

  observeConfirmation(destination: string, ms: number): void {
    this.confirmationSeconds.observe({ destination: this.destinations.of(destination) }, ms / 1000);
  }

  /** Destinations include subscribers' JIDs: a bounded set of label values. */
  private readonly destinations = new BoundedLabels();

  /** The exposition text of these metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
