// HTML pages: log in, verify this browser, account, sign out, dev mailbox. Every form works without JavaScript.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CHANNELS } from '../../domain/policy.js';
import { createHmac } from 'node:crypto';
import { isTokenShaped, newToken, secretsEqual } from '../../domain/tokens.js';
import type { ChallengeView } from '../../flows/challengeView.js';
import { encodeDevice, encodeSession, encodeSignIn, encodeUser } from '../../flows/encode.js';
import { DoormanError, invalidRequest } from '../../flows/errors.js';
import { getChallenge } from '../../flows/getChallenge.js';
import { isVerifiedRepresentative, setNotificationPreference } from '../../flows/accountSettings.js';
import { lookupSession, signOut, type ActiveSession } from '../../flows/sessions.js';
import { confirmPhoneChange, removePhone, startPhoneChange } from '../../flows/changePhone.js';
import { confirmSignInReport, findSignInReport, reportAccountLocale } from '../../flows/reportSignIn.js';
import { maskPhone } from '../../domain/mask.js';
import { describeUserAgent } from '../../domain/userAgent.js';
import type { Locale } from '../../flows/ports.js';
import type { WebDeps } from '../deps.js';
import { pickLocale, translator, type MessageKey } from '../i18n.js';
import { createPageKit, dateTimeOf, formOf, msToText, refusalText, refusalWithRetry, timeOf, type PageText } from './kit.js';
import { changePassword, listDevices, listSessions, listSignIns, revokeAllDevices, revokeDevice, revokeSession, setAuthorization } from '../../flows/accountSecurity.js';
import { sessionExpiresAt } from '../../domain/sessions.js';
import { refuseNulInForms, requestInfo, toPublicError } from '../security.js';
import { browserTokens, passwordStep, sendStep, verifyStep } from '../signInSteps.js';
import { emailField, newPasswordField, passwordField } from '../validation.js';

const ASSETS = new URL('../assets/', import.meta.url);
const asset = (name: string) => readFileSync(fileURLToPath(new URL(name, ASSETS)), 'utf8');

/** Only a local path may be a redirect target: no scheme, no `//host`, no backslash tricks. */
export function safeNext(value: unknown, fallback = '/account'): string {
  if (typeof value !== 'string' || value.length > 512) return fallback;
  if (!/^\/(?![/\\])[\x21-\x7e]*$/.test(value)) return fallback;
  // Not back into signing in, nor to signing out or to JSON, however the path is escaped.
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return fallback;
  }
  if (/^\/(login|logout|api)(?=$|[/?#])/i.test(decoded) || /^\/[/\\]/.test(decoded)) return fallback;
  return value;
}

const loginForm = z.object({ email: emailField, password: passwordField });
const verifyForm = z.object({ code: z.string().max(64), trustDevice: z.string().optional(), newPassword: z.string().max(2048).optional() });
const preferenceForm = z.object({ preference: z.enum(['immediate', 'digest']) });
const phoneForm = z.object({ phone: z.string().trim().min(1).max(32), password: passwordField });
const codeForm = z.object({ code: z.string().min(1).max(64) });
const passwordForm = z.object({ password: passwordField });
const authorizationForm = z.object({ enabled: z.enum(['true', 'false']), password: z.string().max(1024).optional(), code: z.string().max(64).optional() });
const passwordChangeForm = z.object({ currentPassword: passwordField, newPassword: newPasswordField });
const sendForm = z.object({ channel: z.enum(CHANNELS) });

/** Why the last code or send on the code page was refused: an error code (never text) carried in the redirect. */
interface VerifyFailure {
  code: string;
  reason?: string;
  channel?: (typeof CHANNELS)[number];
}

const WORD = /^[a-z_]{1,40}$/;
/** Refusals the code page states by itself once the challenge or the account is locked. */
const LOCK_CODES = new Set(['too_many_attempts', 'verification_locked']);

/** A refusal's codes, as the redirect back to the code page carries them. */
const failureOf = (body: { error: string; reason?: unknown }): VerifyFailure => ({ code: body.error, reason: typeof body.reason === 'string' ? body.reason : undefined });

function verifyFailureOf(query: Record<string, string | undefined>): VerifyFailure | undefined {
  if (typeof query.failed !== 'string' || !WORD.test(query.failed)) return undefined;
  return {
    code: query.failed,
    reason: typeof query.reason === 'string' && WORD.test(query.reason) ? query.reason : undefined,
    channel: (CHANNELS as readonly string[]).includes(query.channel ?? '') ? (query.channel as VerifyFailure['channel']) : undefined,
  };
}

export async function pageRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  refuseNulInForms(app);
  const { ctx, cookies } = deps;
  const { csrf, html, message, tr, toSignIn } = createPageKit(app, deps);

  app.get('/assets/doorman.css', (_request, reply) => reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(asset('doorman.css')));
  app.get('/assets/forms.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(asset('forms.js')));
  app.get('/assets/verify.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(asset('verify.js')));

  app.get('/', (_request, reply) => reply.redirect('/account', 303));

  const renderLogin = async (request: FastifyRequest, reply: FastifyReply, data: { next: string; email?: string; error?: PageText }, status = 200) =>
    html(request, reply, 'login.eta', { csrf: reply.generateCsrf(), email: data.email ?? '', next: data.next, error: data.error }, status);

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.query.next);
    if (await lookupSession(ctx, cookies.read(request, 'session'))) return reply.redirect(next, 303);
    // A browser without a device token gets one with the form, so that every post of this form
    // (a double click included) comes from one device with one challenge and one code.
    if (!isTokenShaped(cookies.read(request, 'device'))) cookies.setDevice(reply, newToken());
    return renderLogin(request, reply, { next });
  });

  app.post('/login', { preHandler: csrf }, async (request, reply) => {
    const form = formOf(request);
    const next = safeNext(form.next);
    const parsed = loginForm.safeParse(form);
    // The address typed is given back (escaped, and no longer than a real one could be), so it can be corrected.
    const typed = typeof form.email === 'string' ? form.email.slice(0, 320) : '';
    if (!parsed.success) return renderLogin(request, reply, { next, email: typed, error: (t) => t('login.missing') }, 400);
    try {
      const result = await passwordStep(deps, request, reply, parsed.data.email, parsed.data.password);
      if (result.status === 'authenticated') return reply.redirect(next, 303);
      return reply.redirect(`/login/verify?next=${encodeURIComponent(next)}`, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      if (mapped.retryAfter !== undefined) reply.header('Retry-After', String(mapped.retryAfter));
      return renderLogin(request, reply, { next, email: parsed.data.email, error: refusalWithRetry(mapped, ctx.clock.now()) }, mapped.status);
    }
  });

  const renderVerify = async (request: FastifyRequest, reply: FastifyReply, next: string, extra: { failure?: VerifyFailure; notice?: PageText; trust?: boolean } = {}) => {
    let view: ChallengeView;
    let locked: boolean;
    let accountLocale: Locale;
    let trustDays: number;
    let lockedUntil: number | null;
    try {
      const found = await getChallenge(ctx, browserTokens(deps, request));
      ({ view, locked, trustDays } = found);
      accountLocale = found.user.locale;
      lockedUntil = found.user.verificationLockedUntil;
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
    // The account's lock (too many wrong codes across challenges) says until when it lasts.
    const accountLocked = lockedUntil !== null && lockedUntil > now;
    const pageShowsLock = locked || view.attemptsLeft === 0 || accountLocked;
    const failure = extra.failure;
    let error: PageText | undefined;
    if (failure?.code === 'invalid_code') {
      const left = view.attemptsLeft;
      // With no attempt left the page itself says the challenge is locked; the refusal says no more.
      error = (t) => (left === 0 ? t('verify.wrongCodeLast') : left === 1 ? t('verify.wrongCodeOne') : t('verify.wrongCode', { count: String(left) }));
    } else if (failure?.code === 'resend_too_soon') {
      const seconds = channels.find((c) => c.channel === failure.channel)?.waitSeconds ?? 0;
      if (seconds > 0) error = (t) => t('verify.resendWait', { seconds: String(seconds) });
    } else if (failure?.code === 'enter_code') {
      error = (t) => t('verify.enterCode');
    } else if (failure?.code === 'new_password_invalid') {
      error = (t) => t('verify.newPasswordInvalid');
    } else if (failure && !(LOCK_CODES.has(failure.code) && pageShowsLock)) {
      // Only a refusal with a text of its own is shown, and a lock the page states itself is not said twice.
      error = refusalText({ error: failure.code, message: '', reason: failure.reason });
    }
    return html(
      request,
      reply,
      'verify.eta',
      {
        passwordChangeRequired: view.passwordChangeRequired === true,
        csrf: reply.generateCsrf(),
        next,
        channels,
        locked: pageShowsLock,
        lockedUntilText: accountLocked ? dateTimeOf(new Date(lockedUntil!).toISOString()) : '',
        attemptsLeft: view.attemptsLeft,
        maxAttempts: ctx.policy.maxCodeAttempts,
        expiresTime: timeOf(view.expiresAt),
        trustDays,
        trust: extra.trust === true,
        error,
        notice: extra.notice,
      },
      200,
      accountLocale,
    );
  };

  // Showing the page never sends anything and never changes the code.
  app.get<{ Querystring: Record<string, string | undefined> }>('/login/verify', async (request, reply) => {
    const { query } = request;
    const sent = query.sent === 'email' || query.sent === 'sms' ? query.sent : undefined;
    const notice: PageText | undefined = sent ? (t) => t('verify.sent', { channel: t(sent === 'email' ? 'channel.email' : 'channel.sms') }) : undefined;
    // The refusal and the ticked box come only from this service's own redirect (signed for this browser's
    // challenge): a link from elsewhere cannot pre-tick "Trust this device" or show a made-up refusal.
    const signed = typeof query.sig === 'string' && secretsEqual(query.sig, failureSignature(request, query));
    return renderVerify(request, reply, safeNext(query.next), { notice, ...(signed ? { failure: verifyFailureOf(query), trust: query.trust === '1' } : {}) });
  });

  const failureSignature = (request: FastifyRequest, query: Record<string, string | undefined>) =>
    createHmac('sha256', ctx.secret)
      .update(['verify-failure', cookies.read(request, 'pending') ?? '', query.failed ?? '', query.reason ?? '', query.channel ?? '', query.trust ?? ''].join('\n'))
      .digest('base64url');

  /**
   * A refused code or send comes back as a redirect to the code page (post/redirect/get), so
   * reloading the page shows it again and never posts the code or the send a second time.
   */
  const backToVerify = (request: FastifyRequest, reply: FastifyReply, next: string, failure: VerifyFailure, trust = false) => {
    const query = new URLSearchParams({ next, failed: failure.code });
    if (failure.reason) query.set('reason', failure.reason);
    if (failure.channel) query.set('channel', failure.channel);
    if (trust) query.set('trust', '1');
    query.set('sig', failureSignature(request, Object.fromEntries(query)));
    return reply.redirect(`/login/verify?${query.toString()}`, 303);
  };

  app.post('/login/verify', { preHandler: csrf }, async (request, reply) => {
    const form = formOf(request);
    const next = safeNext(form.next);
    const parsed = verifyForm.safeParse(form);
    const trust = parsed.success && parsed.data.trustDevice === 'on';
    if (!parsed.success || parsed.data.code.trim() === '') return backToVerify(request, reply, next, { code: 'enter_code' }, trust);
    try {
      let newPassword: string | undefined;
      if (parsed.data.newPassword) {
        const checked = newPasswordField.safeParse(parsed.data.newPassword);
        if (!checked.success) return backToVerify(request, reply, next, { code: 'new_password_invalid' }, trust);
        newPassword = checked.data;
      }
      await verifyStep(deps, request, reply, parsed.data.code, trust, newPassword);
      return reply.redirect(next, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      return backToVerify(request, reply, next, failureOf(mapped.body), trust);
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
      return backToVerify(request, reply, next, { ...failureOf(mapped.body), channel: parsed.data.channel });
    }
  });

  const NOTICES: Record<string, MessageKey> = {
    '1': 'account.saved',
    phone: 'account.phoneSaved',
    'phone-removed': 'account.phoneRemoved',
    password: 'account.passwordChanged',
    revoked: 'account.revoked',
    'auth-code': 'account.codeSent',
    'phone-pending': 'account.phoneCodeSent',
  };

  const renderAccount = async (request: FastifyRequest, reply: FastifyReply, active: ActiveSession, extra: { notice?: PageText; error?: PageText; status?: number } = {}) => {
    const now = ctx.clock.now();
    const [company, pending, listing, sessions, signIns, authCode] = await Promise.all([
      ctx.store.findCompany(active.user.companyId),
      ctx.store.findOpenPhoneChange(active.user.id, now),
      listDevices(ctx, active.user),
      listSessions(ctx, active.user),
      listSignIns(ctx, active.user, { offset: 0, limit: 20 }),
      ctx.store.findOpenPhoneChange(active.user.id, now, 'disable_authorization'),
    ]);
    const locale = pickLocale(request, active.user.locale);
    const device = encodeDevice(active.link, now, active.trust, active.link.id, locale);
    const devices = listing.devices.map((d) => {
      const view = encodeDevice(d, now, listing.trust, active.link.id, locale);
      return { ...view, firstSignInText: msToText(d.firstSignInAt), lastSignInText: msToText(d.lastSignInAt), trustedUntilText: view.trustedUntil ? dateTimeOf(view.trustedUntil) : '' };
    });
    const sessionRows = sessions.map((x) => ({ ...encodeSession(x, sessionExpiresAt(x, ctx.policy), active.session.id, locale), createdText: msToText(x.createdAt), lastSeenText: msToText(x.lastSeenAt) }));
    const signInRows = signIns.rows.map((r) => ({ ...encodeSignIn({ ...r, userEmail: undefined, userName: undefined }, locale), atText: msToText(r.at) }));
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
        devices,
        sessions: sessionRows,
        signIns: signInRows,
        companyRequires: company?.requireVerificationAt !== null && company?.requireVerificationAt !== undefined,
        codeSent: authCode !== undefined,
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
    if (!active) return toSignIn(request, reply, '/account');
    try {
      const saved = await action(active);
      // The phone's code form is far down the page: the notice says so, and the address leads there.
      return reply.redirect(`/account?saved=${saved}${saved === 'phone-pending' ? '#phone-section' : ''}`, 303);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      return renderAccount(request, reply, (await lookupSession(ctx, cookies.read(request, 'session'))) ?? active, { error: refusalWithRetry(mapped, ctx.clock.now()), status: mapped.status });
    }
  };

  app.get<{ Querystring: { saved?: string } }>('/account', async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (!active) return toSignIn(request, reply, '/account');
    const key = request.query.saved ? NOTICES[request.query.saved] : undefined;
    return renderAccount(request, reply, active, key ? { notice: translator(pickLocale(request, active.user.locale))(key) } : {});
  });

  app.post<{ Params: { id: string } }>('/account/devices/:id/revoke', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      await revokeDevice(ctx, active.user, request.params.id, { kind: 'user', userId: active.user.id }, requestInfo(request));
      return 'revoked';
    }),
  );

  app.post('/account/devices/revoke-all', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      await revokeAllDevices(ctx, active.user, { kind: 'user', userId: active.user.id }, requestInfo(request));
      return 'revoked';
    }),
  );

  app.post<{ Params: { id: string } }>('/account/sessions/:id/revoke', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      await revokeSession(ctx, active.user, request.params.id, { kind: 'user', userId: active.user.id }, requestInfo(request));
      return 'revoked';
    }),
  );

  app.post('/account/authorization', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = authorizationForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('Enter your password.', { reason: 'enter_password' });
      const result = await setAuthorization(ctx, active, { enabled: form.data.enabled === 'true', password: form.data.password, code: form.data.code || undefined }, requestInfo(request));
      return result.codeSent ? 'auth-code' : '1';
    }),
  );

  app.post('/account/password', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = passwordChangeForm.safeParse(formOf(request));
      if (!form.success) {
        const newPasswordShort = form.error.issues[0]?.path[0] === 'newPassword';
        throw invalidRequest(form.error.issues[0]?.message ?? 'Enter both passwords.', { reason: newPasswordShort ? 'new_password_short' : 'enter_password' });
      }
      await changePassword(ctx, active, form.data.currentPassword, form.data.newPassword, requestInfo(request));
      return 'password';
    }),
  );

  app.post('/account/phone', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = phoneForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('Enter the phone number and your password.', { reason: 'enter_phone_and_password' });
      await startPhoneChange(ctx, active, form.data, requestInfo(request));
      return 'phone-pending';
    }),
  );

  app.post('/account/phone/verify', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = codeForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('Enter the code.', { reason: 'enter_code' });
      await confirmPhoneChange(ctx, active, form.data.code, requestInfo(request));
      return 'phone';
    }),
  );

  app.post('/account/phone/remove', { preHandler: csrf }, (request, reply) =>
    accountAction(request, reply, async (active) => {
      const form = passwordForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('Enter your password.', { reason: 'enter_password' });
      await removePhone(ctx, active, form.data.password, requestInfo(request));
      return 'phone-removed';
    }),
  );

  app.post('/account/notifications', { preHandler: csrf }, async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (!active) return toSignIn(request, reply, '/account');
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
          browser: describeUserAgent(link.userAgent, pickLocale(request, user.locale)),
        },
        200,
        user.locale,
      );
    } catch (error) {
      if (error instanceof DoormanError && error.statusCode < 500) return reportRefused(request, reply, error);
      throw error;
    }
  });

  /** A used, expired or unknown link: said in the account's language where the link names an account. */
  const reportRefused = async (request: FastifyRequest<{ Params: { token: string } }>, reply: FastifyReply, error: DoormanError) => {
    const locale = await reportAccountLocale(ctx, request.params.token);
    return message(request, reply, error.statusCode, (t) => t('report.invalidTitle'), refusalText({ error: error.code, message: error.message }), '/login', undefined, locale);
  };

  app.post<{ Params: { token: string } }>('/report/:token', { preHandler: csrf }, async (request, reply) => {
    try {
      const { user } = await confirmSignInReport(ctx, request.params.token, requestInfo(request));
      return message(request, reply, 200, tr(request, 'report.doneTitle', undefined, user.locale), tr(request, 'report.doneText', undefined, user.locale), '/login', undefined, user.locale);
    } catch (error) {
      if (error instanceof DoormanError && error.statusCode < 500) return reportRefused(request, reply, error);
      throw error;
    }
  });

  app.post('/logout', { preHandler: csrf }, async (request, reply) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (active) await signOut(ctx, active, requestInfo(request));
    cookies.clear(reply, 'session');
    cookies.clear(reply, 'pending');
    return reply.redirect('/login', 303);
  });

  if (deps.mailbox) {
    const mailbox = deps.mailbox;
    app.get('/dev/mailbox', (request, reply) => html(request, reply, 'mailbox.eta', { entries: mailbox.list() }));
    app.get('/dev/mailbox.json', (_request, reply) => reply.header('Cache-Control', 'no-store').send({ messages: mailbox.list() }));
  }
}
