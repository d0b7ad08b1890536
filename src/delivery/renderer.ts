// Renders queued messages from templates: HTML (escaped by default) and plain text for e-mail, plain text for SMS.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { MessageRenderer, QueuedMessage, RenderedMessage } from '../flows/ports.js';
import { describeUserAgent } from '../domain/userAgent.js';
import { FOOTER, SUBJECTS } from './subjects.js';

const TEMPLATE_DIR = fileURLToPath(new URL('./templates', import.meta.url));

/** `2026-11-28T23:02:55.983Z` → `2026-11-28 23:02`. */
function formatUtc(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 16).replace('T', ' ') : undefined;
}

/** The same moment in the reader's time zone and language, when their zone is known. */
export function formatLocal(value: unknown, locale: string, timeZone: unknown): string | undefined {
  if (typeof value !== 'string' || typeof timeZone !== 'string' || !timeZone) return undefined;
  try {
    return new Intl.DateTimeFormat(locale === 'pl' ? 'pl-PL' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(value));
  } catch {
    return undefined;
  }
}

function digestEntries(value: unknown, locale: 'en' | 'pl', timeZone: unknown): Record<string, string | undefined>[] {
  if (typeof value !== 'string') return [];
  const entries = JSON.parse(value) as Record<string, string>[];
  return entries.map((e) => ({ ...e, at: formatUtc(e.at), localTime: formatLocal(e.at, locale, timeZone), browser: describeUserAgent(e.userAgent ?? '', locale) }));
}

export class TemplateRenderer implements MessageRenderer {
  private readonly html = new Eta({ views: TEMPLATE_DIR, autoEscape: true, cache: true });
  private readonly text = new Eta({ views: TEMPLATE_DIR, autoEscape: false, autoTrim: false, cache: true });

  constructor(private readonly publicUrl: URL) {
    if (!existsSync(TEMPLATE_DIR)) throw new Error(`message templates missing at ${TEMPLATE_DIR}`);
  }

  render(message: QueuedMessage, extras: Record<string, string>): RenderedMessage {
    const locale = message.locale;
    const data: Record<string, unknown> = {
      ...message.payload,
      at: formatUtc(message.payload.at),
      localTime: formatLocal(message.payload.at, locale, message.payload.timeZone),
      expiresAt: formatUtc(message.payload.expiresAt),
      localExpiresAt: formatLocal(message.payload.expiresAt, locale, message.payload.timeZone),
      until: formatUtc(message.payload.until),
      localUntil: formatLocal(message.payload.until, locale, message.payload.timeZone),
      entries: digestEntries(message.payload.entries, locale, message.payload.timeZone),
      ...extras,
      locale,
      host: this.publicUrl.hostname,
      browser: typeof message.payload.userAgent === 'string' ? describeUserAgent(message.payload.userAgent, locale) : undefined,
    };
    const name = `./${message.template}.${locale}`;
    if (message.channel === 'sms') {
      return { text: this.text.render(`${name}.sms.eta`, data).trim() };
    }
    const subject = SUBJECTS[message.template]?.[locale] ?? message.template;
    const body = this.html.render(`${name}.html.eta`, data);
    return {
      subject,
      html: this.html.render('./layout.html.eta', { body, subject, locale, footer: FOOTER[locale] }),
      text: `${this.text.render(`${name}.txt.eta`, data).trim()}\n\n-- \n${FOOTER[locale]}\n`,
    };
  }
}
