// SMS over SMPP 3.4: one transmitter bind, submit_sm per message, enquire_link keep-alive, reconnect with back-off.
import smpp, { type PDU, type Session } from 'smpp';
import type { MessageTransport, QueuedMessage, RenderedMessage } from '../flows/ports.js';
import { DeliveryError } from './deliveryError.js';

const DATA_CODING_GSM7 = 0x00; // SMSC default alphabet (GSM 03.38)
const DATA_CODING_UCS2 = 0x08;
const TON_INTERNATIONAL = 1;
const TON_ALPHANUMERIC = 5;
const NPI_E164 = 1;
/** Refusals that a retry cannot fix: invalid destination address or number. */
const PERMANENT_STATUSES = new Set([0x0b, 0x0e, 0x0f, 0x33, 0x34]);

export interface SmppOptions {
  enquireLinkMs?: number;
  submitTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

/** GSM-7 when every character is in the GSM 03.38 alphabet, UCS-2 otherwise. */
export function dataCodingFor(text: string): number {
  return smpp.encodings.ASCII.match(text) ? DATA_CODING_GSM7 : DATA_CODING_UCS2;
}

export class SmppTransport implements MessageTransport {
  private ready: Promise<Session> | undefined;
  private failures = 0;
  private retryAt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly pending = new Set<(error: Error) => void>();
  private readonly host: string;
  private readonly port: number;
  private readonly systemId: string;
  private readonly password: string;
  private readonly source: string;

  constructor(
    url: URL,
    private readonly options: SmppOptions = {},
  ) {
    this.host = url.hostname;
    this.port = Number(url.port || 2775);
    this.systemId = decodeURIComponent(url.username);
    this.password = decodeURIComponent(url.password);
    this.source = url.searchParams.get('source') ?? 'Doorman';
  }

  async send(message: QueuedMessage, rendered: RenderedMessage): Promise<void> {
    const session = await this.connect();
    const alphanumeric = /\D/.test(this.source);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        this.pending.delete(fail);
        reject(error);
      };
      const timer = setTimeout(() => fail(new DeliveryError('no submit_sm_resp in time')), this.options.submitTimeoutMs ?? 10_000);
      this.pending.add(fail);
      session.submit_sm(
        {
          source_addr: this.source,
          source_addr_ton: alphanumeric ? TON_ALPHANUMERIC : TON_INTERNATIONAL,
          source_addr_npi: alphanumeric ? 0 : NPI_E164,
          destination_addr: message.recipient.replace(/^\+/, ''),
          dest_addr_ton: TON_INTERNATIONAL,
          dest_addr_npi: NPI_E164,
          data_coding: dataCodingFor(rendered.text),
          short_message: rendered.text,
        },
        (pdu: PDU) => {
          clearTimeout(timer);
          this.pending.delete(fail);
          if (pdu.command_status === smpp.ESME_ROK) return resolve();
          const status = pdu.command_status;
          reject(new DeliveryError(`submit_sm refused with status 0x${status.toString(16).padStart(4, '0')}`, PERMANENT_STATUSES.has(status)));
        },
      );
    });
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    void this.ready?.then(
      (session) => session.close(),
      () => undefined,
    );
    this.ready = undefined;
  }

  private connect(): Promise<Session> {
    if (this.ready) return this.ready;
    if (this.closed) return Promise.reject(new DeliveryError('SMPP transport closed'));
    if (Date.now() < this.retryAt) return Promise.reject(new DeliveryError('SMSC link is down; reconnecting'));
    const attempt = new Promise<Session>((resolve, reject) => {
      let bound = false;
      const session = smpp.connect({ host: this.host, port: this.port, auto_enquire_link_period: this.options.enquireLinkMs ?? 30_000 });
      const timer = setTimeout(() => lost(new DeliveryError('SMSC did not answer the bind in time')), 10_000);
      const lost = (error: Error) => {
        clearTimeout(timer);
        session.removeAllListeners('close');
        session.destroy();
        if (!bound) reject(error);
        this.linkLost(attempt, error);
      };
      session.on('error', (error: Error) => lost(error));
      session.on('close', () => lost(new DeliveryError('SMSC closed the link')));
      // The SMSC keeps the link alive too: answer its enquire_link and unbind.
      session.on('enquire_link', (pdu: PDU) => session.send(pdu.response()));
      session.on('unbind', (pdu: PDU) => {
        session.send(pdu.response());
        lost(new DeliveryError('SMSC unbound'));
      });
      session.on('connect', () => {
        session.bind_transmitter({ system_id: this.systemId, password: this.password, interface_version: 0x34 }, (pdu: PDU) => {
          clearTimeout(timer);
          if (pdu.command_status !== smpp.ESME_ROK) return lost(new DeliveryError(`bind_transmitter refused with status 0x${pdu.command_status.toString(16)}`));
          bound = true;
          this.failures = 0;
          this.options.onEvent?.('smpp_bound', { host: this.host, port: this.port });
          resolve(session);
        });
      });
    });
    this.ready = attempt;
    return attempt;
  }

  private linkLost(attempt: Promise<Session>, error: Error): void {
    if (this.ready !== attempt) return;
    this.ready = undefined;
    for (const fail of [...this.pending]) fail(new DeliveryError(`SMSC link lost: ${error.message}`));
    if (this.closed) return;
    this.failures += 1;
    const delay = Math.min(this.options.reconnectMaxMs ?? 60_000, (this.options.reconnectBaseMs ?? 500) * 2 ** (this.failures - 1));
    this.retryAt = Date.now() + delay;
    this.options.onEvent?.('smpp_link_lost', { reason: error.message, reconnectInMs: delay });
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch(() => undefined);
    }, delay);
    this.reconnectTimer.unref();
  }
}
