/**
 * A TCP proxy in front of a real server's port whose client-to-server direction can be held: while
 * held, nothing the client (a gateway) writes is read, so its answers stay in its own socket's buffer as
 * behind a server that reads slowly, while what the server sends still reaches it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class HeldProxy {
  private readonly sockets = new Set<Socket>();
  private readonly pairs: Array<{ client: Socket; upstream: Socket }> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<HeldProxy> {
    let proxy: HeldProxy | null = null;
    const server = createServer((client) => {
      const p = proxy!;
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        p.sockets.add(s);
        s.on('close', () => p.sockets.delete(s));
        s.on('error', () => {});
      }
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      p.pairs.push({ client, upstream });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    proxy = new HeldProxy(server, typeof addr === 'object' && addr ? addr.port : 0);
    return proxy;
  }

  /** Stops reading what the clients write. */
  hold(): void {
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      client.pause();
    }
  }

  /** Reads and forwards again, what waited first. */
  release(): void {
    for (const { client, upstream } of this.pairs) if (!client.destroyed) client.pipe(upstream);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
