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
import { isVerifiedRepresentative, setNotificationPreference } from '../../flows/accountSettings.js';
import { lookupSession, signOut, type ActiveSession } from '../../flows/sessions.js';
import { confirmPhoneChange, removePhone, startPhoneChange } from '../../flows/changePhone.js';
import { confirmSignInReport, findSignInReport } from '../../flows/reportSignIn.js';
import { maskPhone } from '../../domain/mask.js';
import { describeUserAgent } from '../../domain/userAgent.js';
import type { Locale } from '../../flows/ports.js';
import type { WebDeps } from '../deps.js';
import { LANG_COOKIE, pickLocale, translator, type MessageKey } from '../i18n.js';
import { requestInfo, toPublicError } from '../security.js';
import { browserTokens, passwordStep, sendStep, verifyStep } from '../signInSteps.js';
import { emailField, newPasswordField, passwordField } from '../validation.js';

const ASSETS = new URL('../assets/', import.meta.url);
const asset = (name: string) => readFileSync(fileURLToPath(new URL(name, ASSETS)), 'utf8');

/** Only a local path may be a redirect target: no scheme, no `//host`, no backslash tricks. */
export function safeNext(value: unknown, fallback = '/account'): string {
  if (typeof value !== 'string' || value.length > 512) return fallback;
  if (!/^\/(?![/\\])[\x21-\x7e]*$/.test(value) || value.startsWith('/login')) return fallback;
  return value;
}

const loginForm = z.object({ email: emailField, password: passwordField });
const verifyForm = z.object({ code: z.string().max(64), trustDevice: z.string().optional(), newPassword: z.string().max(2048).optional() });
const preferenceForm = z.object({ preference: z.enum(['immediate', 'digest']) });
const phoneForm = z.object({ phone: z.string().trim().min(1).max(32), password: passwordField });
const codeForm = z.object({ code: z.string().min(1).max(64) });
const passwordForm = z.object({ password: passwordField });
const sendForm = z.object({ channel: z.enum(CHANNELS) });

type Form = Record<string, unknown>;
const formOf = (request: FastifyRequest): Form =>
  request.body !== null && typeof request.body === 'object' && !Array.isArray(request.body) ? (request.body as Form) : {};

const timeOf = (iso: string) => iso.slice(11, 19);
const dateTimeOf = (iso: string) => iso.slice(0, 16).replace('T', ' ');

export async function pageRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { ctx, cookies, config } = deps;
  const origin = config.publicUrl.origin;

  // Forms carry a CSRF token; a foreign Origin is refused before the token is even looked at.
  const csrf = async (request: FastifyRequest, reply: FastifyReply) => {
    const from = request.headers.origin;
    if (from !== undefined && from !== origin) throw new DoormanError(403, 'csrf_failed', 'Cross-origin form posts are not allowed.');
    await new Promise<void>((resolve, reject) => app.csrfProtection(request, reply, (error?: Error) => (error ? reject(error) : resolve())));
  };

  const localeOf = (request: FastifyRequest, accountLocale?: Locale) => {
    const locale = pickLocale(request, accountLocale);
    return { locale, t: translator(locale) };
  };

  const html = (request: FastifyRequest, reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200, accountLocale?: Locale) => {
    const { locale, t } = localeOf(request, accountLocale);
    const chosen = (request.query as Record<string, unknown> | undefined)?.lang;
    if (chosen === 'en' || chosen === 'pl') reply.setCookie(LANG_COOKIE, chosen, { path: '/', httpOnly: true, sameSite: 'lax', secure: config.secureCookies, maxAge: 365 * 24 * 3600 });
    return reply.code(status).header('Cache-Control', 'no-store').view(view, { ...data, t, lang: locale });
  };

  const message = (request: FastifyRequest, reply: FastifyReply, status: number, title: string, text: string, linkHref = '/login', linkText?: string) =>
    html(request, reply, 'message.eta', { title, text, linkHref, linkText: linkText ?? translator(pickLocale(request))('common.login') }, status);
  const tr = (request: FastifyRequest, key: MessageKey, params?: Record<string, string | number>) => translator(pickLocale(request))(key, params);

  app.get('/assets/doorman.css', (_request, reply) => reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(asset('doorman.css')));
  app.get('/assets/verify.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(asset('verify.js')));

  app.get('/', (_request, reply) => reply.redirect('/account', 303));

  const renderLogin = async (request: FastifyRequest, reply: FastifyReply, data: { next: string; email?: string; error?: string }, status = 200) =>
    html(request, reply, 'login.eta', { csrf: reply.generateCsrf(), email: data.email ?? '', next: data.next, error: data.error }, status);

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.query.next);
    if (await lookupSession(ctx, cookies.read(request, 'session'))) return reply.redirect(next, 303);
    return renderLogin(request, reply, { next });
  });

  app.post('/login', { preHandler: csrf }, async (request, reply) => {
    const form = formOf(request);
    const next = safeNext(form.next);
    const parsed = loginForm.safeParse(form);
    if (!parsed.success) return renderLogin(request, reply, { next, email: '', error: tr(request, 'login.missing') }, 400);
    try {
      const result = await passwordStep(deps, request, reply, parsed.data.email, parsed.data.password);
      if (result.status === 'authenticated') return reply.redirect(next, 303);
      return reply.redirect(`/login/verify?next=${encodeURIComponent(next)}`, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      if (mapped.retryAfter !== undefined) reply.header('Retry-After', String(mapped.retryAfter));
      return renderLogin(request, reply, { next, email: parsed.data.email, error: mapped.body.message }, mapped.status);
    }
  });

  const renderVerify = async (request: FastifyRequest, reply: FastifyReply, next: string, extra: { error?: string; notice?: string; status?: number } = {}) => {
    let view: ChallengeView;
    let locked: boolean;
    let accountLocale: Locale;
    try {
      const found = await getChallenge(ctx, browserTokens(deps, request));
      ({ view, locked } = found);
      accountLocale = found.user.locale;
    } catch (error) {
      if (error instanceof DoormanError && error.code === 'no_challenge') return reply.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
      if (error instanceof DoormanError && error.code === 'challenge_expired') {
        return message(request, reply, 410, tr(request, 'verify.expiredTitle'), tr(request, 'verify.expiredText'), `/login?next=${encodeURIComponent(next)}`);
      }
      throw error;
    }
    const now = ctx.clock.now();
    const t = translator(pickLocale(request, accountLocale));
    const channels = view.channels.map((c) => ({
      ...c,
      label: t(c.channel === 'email' ? 'channel.email' : 'channel.sms'),
      buttonLabel: t(c.channel === 'email' ? 'verify.sendEmail' : 'verify.sendSms'),
      sentTime: c.lastSentAt ? timeOf(c.lastSentAt) : '',
      waitSeconds: c.resendAvailableAt ? Math.max(0, Math.ceil((Date.parse(c.resendAvailableAt) - now) / 1000)) : 0,
    }));
    return html(
      request,
      reply,
      'verify.eta',
      {
        passwordChangeRequired: view.passwordChangeRequired === true,
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
      accountLocale,
    );
  };

  // Showing the page never sends anything and never changes the code.
  app.get<{ Querystring: { next?: string; sent?: string } }>('/login/verify', async (request, reply) => {
    const sent = request.query.sent === 'email' || request.query.sent === 'sms' ? request.query.sent : undefined;
    const notice = sent ? tr(request, 'verify.sent', { channel: tr(request, sent === 'email' ? 'channel.email' : 'channel.sms') }) : undefined;
    return renderVerify(request, reply, safeNext(request.query.next), notice ? { notice } : {});
  });

  app.post('/login/verify', { preHandler: csrf }, async (request, reply) => {
    const form = formOf(request);
    const next = safeNext(form.next);
    const parsed = verifyForm.safeParse(form);
    if (!parsed.success) return renderVerify(request, reply, next, { error: tr(request, 'verify.enterCode'), status: 400 });
    try {
      let newPassword: string | undefined;
      if (parsed.data.newPassword) {
        const checked = newPasswordField.safeParse(parsed.data.newPassword);
        if (!checked.success) return renderVerify(request, reply, next, { error: checked.error.issues[0]?.message ?? 'invalid password', status: 400 });
        newPassword = checked.data;
      }
      await verifyStep(deps, request, reply, parsed.data.code, parsed.data.trustDevice === 'on', newPassword);
      return reply.redirect(next, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      const left = mapped.body.attemptsLeft;
      const text = mapped.body.error === 'invalid_code' ? tr(request, 'verify.wrongCode', { count: String(left) }) : mapped.body.message;
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
      const text = mapped.body.error === 'resend_too_soon' ? tr(request, 'verify.resendWait', { seconds: String(mapped.body.retryAfter) }) : mapped.body.message;
      return renderVerify(request, reply, next, { error: text, status: mapped.status });
    }
  });

  const NOTICES: Record<string, MessageKey> = { '1': 'account.saved', phone: 'account.phoneSaved', 'phone-removed': 'account.phoneRemoved' };

  const renderAccount = async (request: FastifyRequest, reply: FastifyReply, active: ActiveSession, extra: { notice?: string; error?: string; status?: number } = {}) => {
    const now = ctx.clock.now();
    const [company, pending] = await Promise.all([ctx.store.findCompany(active.user.companyId), ctx.store.findOpenPhoneChange(active.user.id, now)]);
    const device = encodeDevice(active.link, now, active.requiredSince);
    return html(
      request,
      reply,
      'account.eta',
      {
        csrf: reply.generateCsrf(),
        user: encodeUser(active.user),
        phone: active.user.phone ? maskPhone(active.user.phone) : null,
        pendingPhone: pending ? maskPhone(pending.phone) : null,
        companyName: company?.name ?? '',
        device: { ...device, trustedUntilText: device.trustedUntil ? dateTimeOf(device.trustedUntil) : '' },
        session: { createdAt: dateTimeOf(new Date(active.session.createdAt).toISOString()), ip: active.session.ip },
        representative: isVerifiedRepresentative(active.user),
        preference: active.user.notificationPreference,
        notice: extra.notice,
        error: extra.error,
      },
      extra.status ?? 200,
      active.user.locale,
    );
  };

  /** Runs a form action for the signed-in user; a refusal re-renders the account page with the reason. */
  const accountAction = async (request: FastifyRequest, reply: FastifyReply, action: (active: ActiveSession) => Promise<string>) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (!active) return reply.redirect('/login?next=%2Faccount', 303);
    try {
      return reply.redirect(`/account?saved=${await action(active)}`, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      return renderAccount(request, reply, (await lookupSession(ctx, cookies.read(request, 'session'))) ?? active, { error: mapped.body.message, status: mapped.status });
    }
  };

  app.get<{ Querystring: { saved?: string } }>('/account', async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (!active) return reply.redirect('/login?next=%2Faccount', 303);
    const key = request.query.saved ? NOTICES[request.query.saved] : undefined;
    return renderAccount(request, reply, active, key ? { notice: translator(pickLocale(request, active.user.locale))(key) } : {});
  });

  app.post('/account/phone', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = phoneForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('Enter the phone number and your password.');
      await startPhoneChange(ctx, active, form.data, requestInfo(request));
      return 'phone-pending';
    }),
  );

  app.post('/account/phone/verify', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = codeForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('Enter the code.');
      await confirmPhoneChange(ctx, active, form.data.code, requestInfo(request));
      return 'phone';
    }),
  );

  app.post('/account/phone/remove', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = passwordForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('Enter your password.');
      await removePhone(ctx, active, form.data.password, requestInfo(request));
      return 'phone-removed';
    }),
  );

  app.post('/account/notifications', { preHandler: csrf }, async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (!active) return reply.redirect('/login?next=%2Faccount', 303);
    const parsed = preferenceForm.safeParse(formOf(request));
    if (!parsed.success) throw invalidRequest('preference must be immediate or digest');
    await setNotificationPreference(ctx, active, parsed.data.preference, requestInfo(request));
    return reply.redirect('/account?saved=1', 303);
  });

  // The link in the e-mail only shows what happened; the change needs a click (mail scanners open links).
  app.get<{ Params: { token: string } }>('/report/:token', async (request, reply) => {
    try {
      const { user, link } = await findSignInReport(ctx, request.params.token);
      return html(
        request,
        reply,
        'report.eta',
        {
          csrf: reply.generateCsrf(),
          token: request.params.token,
          email: user.email,
          time: dateTimeOf(new Date(link.lastSignInAt).toISOString()),
          ip: link.lastIp,
          browser: describeUserAgent(link.userAgent),
        },
        200,
        user.locale,
      );
    } catch (error) {
      if (error instanceof DoormanError && error.statusCode < 500) return message(request, reply, error.statusCode, tr(request, 'report.invalidTitle'), error.message);
      throw error;
    }
  });

  app.post<{ Params: { token: string } }>('/report/:token', { preHandler: csrf }, async (request, reply) => {
    try {
      await confirmSignInReport(ctx, request.params.token, requestInfo(request));
      return message(request, reply, 200, tr(request, 'report.doneTitle'), tr(request, 'report.doneText'));
    } catch (error) {
      if (error instanceof DoormanError && error.statusCode < 500) return message(request, reply, error.statusCode, tr(request, 'report.invalidTitle'), error.message);
      throw error;
    }
  });

  app.post('/logout', { preHandler: csrf }, async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (active) await signOut(ctx, active, requestInfo(request));
    cookies.clear(reply, 'session');
    return reply.redirect('/login', 303);
  });

  if (deps.mailbox) {
    const mailbox = deps.mailbox;
    app.get('/dev/mailbox', (request, reply) => html(request, reply, 'mailbox.eta', { entries: mailbox.list() }));
    app.get('/dev/mailbox.json', (_request, reply) => reply.header('Cache-Control', 'no-store').send({ messages: mailbox.list() }));
  }
}
