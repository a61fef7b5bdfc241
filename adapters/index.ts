/** The adapter kinds this build of fedgate knows, by `--kind` name. */
import type { AdapterModule } from './contract.js';
import { echoAdapter } from './echo/echo.js';
import { webhookAdapter } from './webhook/webhook.js';
import { storeAdapter } from './store/store.js';
import { sqlAdapter } from './sql/sql.js';
import { mqttAdapter } from './mqtt/mqtt.js';
import { httpAdapter } from './http/http.js';
import { quoaliseAdapter } from './quoalise/quoalise.js';

const modules: AdapterModule<any>[] = [echoAdapter, webhookAdapter, storeAdapter, sqlAdapter, mqttAdapter, httpAdapter, quoaliseAdapter];

export const adapterKinds: ReadonlyMap<string, AdapterModule<unknown>> = new Map(modules.map((m) => [m.kind, m]));

export function adapterModule(kind: string): AdapterModule<unknown> {
  const m = adapterKinds.get(kind);
  if (!m) throw new Error(`unknown adapter kind "${kind}" (known: ${[...adapterKinds.keys()].join(', ')})`);
  return m;
}
