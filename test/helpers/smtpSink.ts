// A real SMTP server on loopback that parses and keeps every message it accepts.
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SinkMessage {
  to: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string | undefined;
}

export class SmtpSink {
  readonly messages: SinkMessage[] = [];
  private server: SMTPServer | undefined;
  private waiters: (() => void)[] = [];
  /** How long the server takes to accept each message (a slow relay). */
  acceptDelayMs = 0;

  constructor(public port = 0) {}

  async start(): Promise<this> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, _session, callback) => {
        simpleParser(stream)
          .then((mail: ParsedMail) => {
            const to = (Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []).flatMap((a) => a.value.map((v) => v.address ?? ''));
            const parsed = { to, subject: mail.subject ?? '', text: mail.text ?? '', html: typeof mail.html === 'string' ? mail.html : '', messageId: mail.messageId };
            setTimeout(() => {
              this.messages.push(parsed);
              for (const wake of this.waiters.splice(0)) wake();
              callback();
            }, this.acceptDelayMs);
          })
          .catch(callback);
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.server = server;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  to(address: string): SinkMessage[] {
    return this.messages.filter((m) => m.to.includes(address));
  }

  /** Waits until `predicate` holds for the messages received, or fails after `timeoutMs`. */
  async waitFor(predicate: (messages: SinkMessage[]) => boolean, timeoutMs = 10_000): Promise<SinkMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.messages)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SMTP sink: condition not met within ${timeoutMs} ms (${this.messages.length} messages)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages;
  }

  /** The newest code e-mailed to `address`. */
  async codeFor(address: string, count = 1): Promise<string> {
    const messages = await this.waitFor(() => this.to(address).filter(isCodeMail).length >= count);
    const mail = messages.filter((m) => m.to.includes(address) && isCodeMail(m)).at(-1);
    const match = /^\s*(\d{6,10})\s*$/m.exec(mail?.text ?? '');
    if (!match?.[1]) throw new Error('no code in the e-mail');
    return match[1];
  }
}

export const isCodeMail = (m: SinkMessage) => /verification code/i.test(m.subject);
