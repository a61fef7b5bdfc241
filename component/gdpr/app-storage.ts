/**
 * The apps' own storage, as the GDPR work reaches it: through the module-level `forget` and `read` of
 * the adapter contract (adapters/contract.ts), outside the running adapters and without the side
 * effects of `create`. An app whose adapter has neither keeps its data where fedgate cannot reach it.
 */
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import { adapterModule } from '../../adapters/index.js';
import type { AdapterModule, ForgetRequest, StorageContext } from '../../adapters/contract.js';
import { AppRegistry, adapterOptions, type AppRecord } from '../registry/apps.js';

export interface AppStorage {
  app: AppRecord;
  module: AdapterModule;
  ctx: StorageContext<unknown>;
}

export function appStorages(db: Db, o: { databasePath: string; domain: string; log: Logger }): AppStorage[] {
  return new AppRegistry(db).list().map((app) => {
    const module = adapterModule(app.kind) as AdapterModule;
    return { app, module, ctx: { app: { name: app.name, jid: `${app.name}@${o.domain}` }, options: adapterOptions(module, app.options), log: o.log, databasePath: o.databasePath } };
  });
}

/**
 * The app storage's `forget`, with `committed` told every record deleted: after each part its storage
 * committed, or — an adapter that deletes in one go — the whole count when it returns. Returns the total.
 */
export async function forgetTelling(s: Pick<AppStorage, 'module' | 'ctx'>, request: Omit<ForgetRequest, 'committed'>, committed: (records: number) => void): Promise<number> {
  let told = 0;
  const { records } = await s.module.forget!(s.ctx, { ...request, committed: (n) => (committed(n), (told += n)) });
  if (records > told) committed(records - told);
  return records;
}
