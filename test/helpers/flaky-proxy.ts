/**
 * A TCP proxy in front of a real server's port that resets its first connections as soon as the
 * client has written something (the stream open): the "connection reset during stream open" an admin
 * sees when a server restarts or a middlebox drops the link. Later connections pass through.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class FlakyProxy {
  /** Connections reset so far. */
  resets = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, resetFirst: number): Promise<FlakyProxy> {
    let proxy: FlakyProxy | null = null;
    const server = createServer((client) => {
      const p = proxy!;
      p.sockets.add(client);
      client.on('close', () => p.sockets.delete(client));
      client.on('error', () => {});
      if (p.resets < resetFirst) {
        client.once('data', () => {
          p.resets++;
          client.resetAndDestroy();
        });
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      p.sockets.add(upstream);
      upstream.on('close', () => {
        p.sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    proxy = new FlakyProxy(server, typeof addr === 'object' && addr ? addr.port : 0);
    return proxy;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
