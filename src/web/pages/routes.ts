// HTML pages: log in, verify this browser, account, sign out, dev mailbox. Every form works without JavaScript.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CHANNELS } from '../../domain/policy.js';
import type { ChallengeView } from '../../flows/challengeView.js';
import { encodeDevice, encodeUser } from '../../flows/encode.js';
import { DoormanError, invalidRequest } from '../../flows/errors.js';
import { getChallenge } from '../../flows/getChallenge.js';
import { lookupSession, signOut } from '../../flows/sessions.js';
import { maskPhone } from '../../domain/mask.js';
import type { WebDeps } from '../deps.js';
import { requestInfo, toPublicError } from '../security.js';
import { browserTokens, passwordStep, sendStep, verifyStep } from '../signInSteps.js';
import { emailField, passwordField } from '../validation.js';

const ASSETS = new URL('../assets/', import.meta.url);
const asset = (name: string) => readFileSync(fileURLToPath(new URL(name, ASSETS)), 'utf8');

/** Only a local path may be a redirect target: no scheme, no `//host`, no backslash tricks. */
export function safeNext(value: unknown, fallback = '/account'): string {
  if (typeof value !== 'string' || value.length > 512) return fallback;
  if (!/^\/(?![/\\])[\x21-\x7e]*$/.test(value) || value.startsWith('/login')) return fallback;
  return value;
}

const loginForm = z.object({ email: emailField, password: passwordField });
const verifyForm = z.object({ code: z.string().max(64), trustDevice: z.string().optional() });
const sendForm = z.object({ channel: z.enum(CHANNELS) });

type Form = Record<string, unknown>;
const formOf = (request: FastifyRequest): Form =>
  request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body) ? (request.body as Form) : {};

const CHANNEL_LABELS = { email: 'e-mail', sms: 'SMS' } as const;
const timeOf = (iso: string) => iso.slice(11, 19);

export async function pageRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { ctx, cookies, config } = deps;
  const origin = config.publicUrl.origin;

  // Forms carry a CSRF token; a foreign Origin is refused before the token is even looked at.
  const csrf = async (request: FastifyRequest, reply: FastifyReply) => {
    const from = request.headers.origin;
    if (from !== undefined && from !== origin) throw new DoormanError(403, 'csrf_failed', 'Cross-origin form posts are not allowed.');
    await new Promise<void>((resolve, reject) => app.csrfProtection(request, reply, (error?: Error) => (error ? reject(error) : resolve())));
  };

  const html = (reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200) =>
    reply.code(status).header('Cache-Control', 'no-store').view(view, data);

  const message = (reply: FastifyReply, status: number, title: string, text: string, linkHref = '/login', linkText = 'Log in') =>
    html(reply, 'message.eta', { title, text, linkHref, linkText }, status);

  app.get('/assets/doorman.css', (_request, reply) => reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(asset('doorman.css')));
  app.get('/assets/verify.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(asset('verify.js')));

  app.get('/', (_request, reply) => reply.redirect('/account', 303));

  const renderLogin = async (reply: FastifyReply, data: { next: string; email?: string; error?: string }, status = 200) =>
    html(reply, 'login.eta', { csrf: reply.generateCsrf(), email: data.email ?? '', next: data.next, error: data.error }, status);

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.query.next);
    if (await lookupSession(ctx, cookies.read(request, 'session'))) return reply.redirect(next, 303);
    return renderLogin(reply, { next });
  });

  app.post('/login', { preHandler: csrf }, async (request, reply) => {
    const form = formOf(request);
    const next = safeNext(form.next);
    const parsed = loginForm.safeParse(form);
    if (!parsed.success) return renderLogin(reply, { next, email: '', error: 'Enter your email and password.' }, 400);
    try {
      const result = await passwordStep(deps, request, reply, parsed.data.email, parsed.data.password);
      if (result.status === 'authenticated') return reply.redirect(next, 303);
      return reply.redirect(`/login/verify?next=${encodeURIComponent(next)}`, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      if (mapped.retryAfter !== undefined) reply.header('Retry-After', String(mapped.retryAfter));
      return renderLogin(reply, { next, email: parsed.data.email, error: mapped.body.message }, mapped.status);
    }
  });

  const renderVerify = async (request: FastifyRequest, reply: FastifyReply, next: string, extra: { error?: string; notice?: string; status?: number } = {}) => {
    let view: ChallengeView;
    let locked: boolean;
    try {
      ({ view, locked } = await getChallenge(ctx, browserTokens(deps, request)));
    } catch (error) {
      if (error instanceof DoormanError && error.code === 'no_challenge') return reply.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
      if (error instanceof DoormanError && error.code === 'challenge_expired') {
        return message(reply, 410, 'The code has expired', 'Log in again to get a new code.', `/login?next=${encodeURIComponent(next)}`);
      }
      throw error;
    }
    const now = ctx.clock.now();
    const channels = view.channels.map((c) => ({
      ...c,
      label: CHANNEL_LABELS[c.channel],
      buttonLabel: c.channel === 'email' ? 'Send code by e-mail' : 'Send code by SMS',
      sentTime: c.lastSentAt ? timeOf(c.lastSentAt) : '',
      waitSeconds: c.resendAvailableAt ? Math.max(0, Math.ceil((Date.parse(c.resendAvailableAt) - now) / 1000)) : 0,
    }));
    return html(
      reply,
      'verify.eta',
      {
        csrf: reply.generateCsrf(),
        next,
        channels,
        locked: locked || view.attemptsLeft === 0,
        attemptsLeft: view.attemptsLeft,
        maxAttempts: ctx.policy.maxCodeAttempts,
        expiresTime: timeOf(view.expiresAt),
        trustDays: ctx.policy.trustedDeviceDays,
        error: extra.error,
        notice: extra.notice,
      },
      extra.status ?? 200,
    );
  };

  // Showing the page never sends anything and never changes the code.
  app.get<{ Querystring: { next?: string; sent?: string } }>('/login/verify', async (request, reply) => {
    const sent = request.query.sent === 'email' || request.query.sent === 'sms' ? request.query.sent : undefined;
    return renderVerify(request, reply, safeNext(request.query.next), sent ? { notice: `A code was sent by ${CHANNEL_LABELS[sent]}.` } : {});
  });

  app.post('/login/verify', { preHandler: csrf }, async (request, reply) => {
    const form = formOf(request);
    const next = safeNext(form.next);
    const parsed = verifyForm.safeParse(form);
    if (!parsed.success) return renderVerify(request, reply, next, { error: 'Enter the code.', status: 400 });
    try {
      await verifyStep(deps, request, reply, parsed.data.code, parsed.data.trustDevice === 'on');
      return reply.redirect(next, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      const left = mapped.body.attemptsLeft;
      const text = mapped.body.error === 'invalid_code' ? `The code is not correct. ${String(left)} attempts left.` : mapped.body.message;
      return renderVerify(request, reply, next, { error: text, status: mapped.status });
    }
  });

  app.post('/login/verify/send', { preHandler: csrf }, async (request, reply) => {
    const form = formOf(request);
    const next = safeNext(form.next);
    const parsed = sendForm.safeParse(form);
    if (!parsed.success) throw invalidRequest('channel must be email or sms');
    try {
      await sendStep(deps, request, parsed.data.channel);
      return reply.redirect(`/login/verify?sent=${parsed.data.channel}&next=${encodeURIComponent(next)}`, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      if (mapped.retryAfter !== undefined) reply.header('Retry-After', String(mapped.retryAfter));
      const text = mapped.body.error === 'resend_too_soon' ? `Please wait ${String(mapped.body.retryAfter)} s before sending another code this way.` : mapped.body.message;
      return renderVerify(request, reply, next, { error: text, status: mapped.status });
    }
  });

  app.get('/account', async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (!active) return reply.redirect('/login?next=%2Faccount', 303);
    const company = await ctx.store.findCompany(active.user.companyId);
    return html(reply, 'account.eta', {
      csrf: reply.generateCsrf(),
      user: encodeUser(active.user),
      phone: active.user.phone ? maskPhone(active.user.phone) : null,
      companyName: company?.name ?? '',
      device: encodeDevice(active.link, ctx.clock.now(), active.requiredSince),
      session: { createdAt: new Date(active.session.createdAt).toISOString(), ip: active.session.ip },
    });
  });

  app.post('/logout', { preHandler: csrf }, async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (active) await signOut(ctx, active, requestInfo(request));
    cookies.clear(reply, 'session');
    return reply.redirect('/login', 303);
  });

  if (deps.mailbox) {
    const mailbox = deps.mailbox;
    app.get('/dev/mailbox', (_request, reply) => html(reply, 'mailbox.eta', { entries: mailbox.list() }));
    app.get('/dev/mailbox.json', (_request, reply) => reply.header('Cache-Control', 'no-store').send({ messages: mailbox.list() }));
  }
}
