/** Free loopback TCP ports for throwaway servers. */
import { createServer } from 'node:net';

/**
 * Ports are drawn below Linux's ephemeral range (32768–60999), where the kernel picks the ports of
 * outgoing connections and of `listen(0)`: an Erlang node's distribution listener or a client
 * socket opened between this call and the server's bind can no longer take the port. A port is
 * handed out once per process, so servers started side by side never get the same one.
 */
const FIRST = 20_000;
const LAST = 32_767;
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 1000; tries++) {
    const port = FIRST + Math.floor(Math.random() * (LAST - FIRST + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free loopback port between ${FIRST} and ${LAST}`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Resolves when something accepts TCP connections on host:port, polling every `everyMs`. */
export async function waitForPort(port: number, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
