// The part of the `smpp` package Doorman uses (it ships no types).
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';

  export interface PDU {
    command: string;
    command_status: number;
    sequence_number: number;
    [field: string]: unknown;
    response(fields?: Record<string, unknown>): PDU;
  }

  export class Session extends EventEmitter {
    send(pdu: PDU, responseCallback?: (pdu: PDU) => void): boolean;
    bind_transmitter(fields: Record<string, unknown>, callback?: (pdu: PDU) => void): boolean;
    submit_sm(fields: Record<string, unknown>, callback?: (pdu: PDU) => void): boolean;
    enquire_link(fields?: Record<string, unknown>, callback?: (pdu: PDU) => void): boolean;
    unbind(fields?: Record<string, unknown>, callback?: (pdu: PDU) => void): boolean;
    pause(): void;
    resume(): void;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    socket: import('node:net').Socket;
  }

  export class Server extends EventEmitter {
    sessions: Session[];
    listen(port: number, host?: string, callback?: () => void): this;
    close(callback?: (error?: Error) => void): this;
    address(): import('node:net').AddressInfo | string | null;
  }

  export function connect(options: { url?: string; host?: string; port?: number; auto_enquire_link_period?: number; connectTimeout?: number }, listener?: () => void): Session;
  export function createServer(listener: (session: Session) => void): Server;

  export const encodings: { ASCII: { match(text: string): boolean } };
  export const ESME_ROK: number;
  export const ESME_RBINDFAIL: number;
  export const ESME_RSYSERR: number;
  export const ESME_RTHROTTLED: number;
  export const ESME_RINVDSTADR: number;
}
