// A real SMPP server (the `smpp` package in server mode) on loopback that accepts binds and keeps every submit_sm.
import smpp, { type PDU, type Session } from 'smpp';

export interface ReceivedSms {
  to: string;
  text: string;
  dataCoding: number;
  source: string;
}

export class SmppSink {
  readonly messages: ReceivedSms[] = [];
  readonly binds: string[] = [];
  /** Status to answer the next submits with (0 = accepted); shifted per submit. */
  readonly nextStatuses: number[] = [];
  /** While true, submits are kept but never answered: an SMSC that has stalled. */
  silent = false;
  private server: smpp.Server | undefined;

  constructor(
    public port = 0,
    private readonly credentials = { systemId: 'doorman', password: 'secret' },
  ) {}

  async start(): Promise<this> {
    const server = smpp.createServer((session: Session) => {
      session.on('error', () => undefined);
      session.on('bind_transmitter', (pdu: PDU) => {
        const ok = pdu.system_id === this.credentials.systemId && pdu.password === this.credentials.password;
        this.binds.push(String(pdu.system_id));
        session.send(pdu.response({ command_status: ok ? smpp.ESME_ROK : smpp.ESME_RBINDFAIL }));
        if (!ok) session.close();
      });
      session.on('enquire_link', (pdu: PDU) => session.send(pdu.response()));
      session.on('unbind', (pdu: PDU) => {
        session.send(pdu.response());
        session.close();
      });
      session.on('submit_sm', (pdu: PDU) => {
        if (this.silent) return;
        const status = this.nextStatuses.shift() ?? smpp.ESME_ROK;
        if (status === smpp.ESME_ROK) {
          const message = pdu.short_message as { message?: string } | string;
          const text = typeof message === 'string' ? message : (message.message ?? '');
          this.messages.push({ to: String(pdu.destination_addr), text, dataCoding: Number(pdu.data_coding), source: String(pdu.source_addr) });
        }
        session.send(pdu.response({ command_status: status, message_id: String(this.messages.length) }));
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.server = server;
    return this;
  }

  url(): string {
    return `smpp://${this.credentials.systemId}:${this.credentials.password}@127.0.0.1:${this.port}`;
  }

  /** Drops every bound client at once, as an SMSC restart would. */
  dropLinks(): void {
    for (const session of [...(this.server?.sessions ?? [])]) session.socket.destroy();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    // Stop accepting first, so a client reconnecting at once cannot keep the server open.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of [...server.sessions]) session.socket.destroy();
    await closed;
  }

  to(number: string): ReceivedSms[] {
    return this.messages.filter((m) => m.to === number.replace(/^\+/, ''));
  }

  async waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`SMPP sink: condition not met in ${timeoutMs} ms (${this.messages.length} messages)`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The code in the newest SMS to `number`, read from its origin-bound last line. */
  codeFrom(message: ReceivedSms): string {
    const match = /#(\d{6,10})\s*$/.exec(message.text);
    if (!match?.[1]) throw new Error(`no code in SMS: ${message.text}`);
    return match[1];
  }
}
