// The dev mailbox: keeps every e-mail and SMS "sent" in memory when no real transport is configured.
import type { Channel } from '../domain/policy.js';
import type { MessageTransport, QueuedMessage, RenderedMessage } from '../flows/ports.js';

export interface MailboxEntry {
  id: string;
  channel: Channel;
  to: string;
  subject: string | undefined;
  text: string;
  html: string | undefined;
  at: string;
}

const CAPACITY = 500;

export class DevMailbox {
  private readonly entries: MailboxEntry[] = [];

  transport(): MessageTransport {
    return {
      send: async (message: QueuedMessage, rendered: RenderedMessage) => {
        this.entries.push({
          id: message.id,
          channel: message.channel,
          to: message.recipient,
          subject: rendered.subject,
          text: rendered.text,
          html: rendered.html,
          at: new Date().toISOString(),
        });
        if (this.entries.length > CAPACITY) this.entries.shift();
      },
    };
  }

  /** Newest first. */
  list(): MailboxEntry[] {
    return [...this.entries].reverse();
  }
}
