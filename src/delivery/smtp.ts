// E-mail over SMTP with nodemailer: a pooled transport (nodemailer 10 turns Nagle's algorithm off) and a stable Message-ID per outbox row.
import nodemailer from 'nodemailer';
import type { MessageTransport, QueuedMessage, RenderedMessage } from '../flows/ports.js';

export interface SmtpTransport extends MessageTransport {
  close(): void;
}

export function createSmtpTransport(smtpUrl: string, from: string, messageIdHost: string): SmtpTransport {
  const url = new URL(smtpUrl);
  const transporter = nodemailer.createTransport({
    pool: true,
    maxConnections: 4,
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // Certificates are checked; `?tls=insecure` accepts any, for a relay on a private network only.
    tls: { rejectUnauthorized: url.searchParams.get('tls') !== 'insecure' },
  });
  return {
    async send(message: QueuedMessage, rendered: RenderedMessage) {
      await transporter.sendMail({
        from,
        to: message.recipient,
        subject: rendered.subject ?? '',
        text: rendered.text,
        html: rendered.html,
        messageId: `<${message.id}@${messageIdHost}>`,
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    },
    close() {
      transporter.close();
    },
  };
}
