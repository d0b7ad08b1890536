// A TCP proxy on loopback that can cut every connection and refuse new ones, or swallow their bytes, to stage a database outage.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private stalled = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async up(): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      // While stalled, bytes are dropped both ways and the sockets stay open: a network that swallows packets.
      client.on('data', (chunk: Buffer) => void (this.stalled || upstream.write(chunk)));
      upstream.on('data', (chunk: Buffer) => void (this.stalled || client.write(chunk)));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.server = server;
    return this;
  }

  /** Stops passing bytes, dropping them, with every connection left open (new ones are taken and swallowed too). */
  stall(): void {
    this.stalled = true;
  }

  /** Passes bytes again; what was dropped meanwhile is lost, so the connections open during the stall are broken. */
  unstall(): void {
    this.stalled = false;
  }

  /** Cuts every open connection and stops listening: new connections are refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
