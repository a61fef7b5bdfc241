/**
 * The gateway's connections write with automatic checkpoints off (a checkpoint fsyncs, and must not
 * land inside an app's write or on the XMPP thread): the checkpoint worker alone moves the write-ahead
 * log into the database file, for fedgate's own file and for the store's. Observed without touching
 * the files' locks: the WAL index (the `-shm` file) says how many frames the log holds (`mxFrame`) and
 * how many a checkpoint has copied back (`nBackfill`).
 */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ejabberd } from '../helpers/ejabberd.js';
import { Fedgate } from '../helpers/fedgate.js';
import { storeScalar, until } from '../helpers/db.js';
import { importSeries, startFlow } from '../helpers/flow.js';

const DOMAIN = 'energy.localhost';
const SOURCE = 'source.localhost';
const SERIES = 'urn:dev:prm:30000000000001_consumption/power/active/raw';
const N = 5000;

interface Ctx {
  ejabberd: Ejabberd;
  gateway: Fedgate;
  sender: Fedgate;
}
const test = suite<Ctx>('checkpoints');

test.before(async (ctx) => {
  ctx.ejabberd = await Ejabberd.start({ components: [DOMAIN, SOURCE].map((domain) => ({ domain, secret: `${domain}-secret` })) });
  ctx.gateway = new Fedgate({ port: ctx.ejabberd.componentPort(DOMAIN), domain: DOMAIN, secret: `${DOMAIN}-secret` });
  ctx.sender = new Fedgate({ port: ctx.ejabberd.componentPort(SOURCE), domain: SOURCE, secret: `${SOURCE}-secret` });
  await startFlow(ctx.sender, ctx.gateway);
});

test.after(async (ctx) => {
  for (const f of [ctx.gateway, ctx.sender]) {
    await f?.stop();
    f?.cleanup();
  }
  await ctx.ejabberd?.stop();
});

/** Frames in the write-ahead log and frames already copied into the database (SQLite's wal.c: WalIndexHdr, WalCkptInfo). */
function walState(file: string): { frames: number; backfilled: number } {
  const shm = readFileSync(`${file}-shm`);
  return { frames: shm.readUInt32LE(16), backfilled: shm.readUInt32LE(96) };
}

test('the checkpoint worker copies the write-ahead log of both files back while the gateway writes without checkpoints', async ({ gateway, sender }) => {
  const storeFile = join(gateway.dir, 'fedgate-store.sqlite');
  await importSeries(sender, SERIES, N);
  const arrived = () => storeScalar(gateway, "SELECT count(*) FROM store_points p JOIN store_series s ON s.id = p.series WHERE s.app = 'sink'");
  await until(() => arrived() === N, 60_000, () => `arrived ${arrived()} of ${N}`);
  assert.ok(existsSync(`${storeFile}-wal`), 'the store file is in WAL mode');
  for (const file of [storeFile, join(gateway.dir, 'fedgate.sqlite')]) {
    await until(
      () => {
        const { frames, backfilled } = walState(file);
        return frames > 0 && backfilled === frames;
      },
      20_000,
      () => `${file}: ${JSON.stringify(walState(file))}: the log is not copied back`,
    );
  }
});

test.run();
