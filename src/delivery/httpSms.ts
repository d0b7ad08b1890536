// SMS through a generic HTTP provider: a signed JSON POST {to, text, id} that a platform bridges to any SMS vendor.
import { createHmac } from 'node:crypto';
import type { MessageTransport, QueuedMessage, RenderedMessage } from '../flows/ports.js';
import { DeliveryError } from './deliveryError.js';

export const SIGNATURE_HEADER = 'X-Doorman-Signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`, checked by the receiver against its copy of the key. */
export function signBody(key: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', key).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export class HttpSmsTransport implements MessageTransport {
  private readonly endpoint: string;
  private readonly authorization: string | undefined;

  constructor(
    url: URL,
    private readonly signingKey: string,
    private readonly timeoutMs = 10_000,
  ) {
    const clean = new URL(url);
    // Credentials in the URL become a Basic header; fetch refuses URLs that carry them.
    this.authorization = clean.username ? `Basic ${Buffer.from(`${decodeURIComponent(clean.username)}:${decodeURIComponent(clean.password)}`).toString('base64')}` : undefined;
    clean.username = '';
    clean.password = '';
    this.endpoint = clean.toString();
  }

  async send(message: QueuedMessage, rendered: RenderedMessage): Promise<void> {
    // The outbox id is stable across retries, so the provider can drop a duplicate.
    const body = JSON.stringify({ to: message.recipient, text: rendered.text, id: message.id });
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signBody(this.signingKey, body, Math.floor(Date.now() / 1000)),
        ...(this.authorization ? { authorization: this.authorization } : {}),
      },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return;
    // 4xx other than 408/429 means this message will never be accepted; anything else is worth a retry.
    const permanent = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
    throw new DeliveryError(`SMS provider answered ${response.status}`, permanent);
  }
}
