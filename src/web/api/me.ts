// JSON API for the signed-in user's own account: settings and phone number.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isVerifiedRepresentative, setNotificationPreference } from '../../flows/accountSettings.js';
import { confirmPhoneChange, removePhone, startPhoneChange } from '../../flows/changePhone.js';
import type { WebDeps } from '../deps.js';
import { requestInfo } from '../security.js';
import { newPasswordField, pageOfList, parseInput, parsePage, passwordField } from '../validation.js';
import { changePassword, listDevices, listSessions, listSignIns, revokeAllDevices, revokeDevice, revokeSession, setAuthorization } from '../../flows/accountSecurity.js';
import { encodeDevice, encodeSession, encodeSignIn } from '../../flows/encode.js';
import { sessionExpiresAt } from '../../domain/sessions.js';
import { requireActiveSession } from './session.js';

const settingsBody = z.object({ notificationPreference: z.enum(['immediate', 'digest']) }).partial().strict();
const phoneBody = z.object({ phone: z.string().trim().min(1, 'phone is required').max(32, 'phone is too long'), password: passwordField });
const phoneCodeBody = z.object({ code: z.string().max(64, 'code is too long') });
const passwordBody = z.object({ password: passwordField });

export async function meApi(app: FastifyInstance, deps: WebDeps): Promise<void> {
  app.get('/me/settings', async (request) => {
    const active = await requireActiveSession(deps, request);
    return { notificationPreference: active.user.notificationPreference, representative: isVerifiedRepresentative(active.user) };
  });

  app.patch('/me/settings', async (request) => {
    const active = await requireActiveSession(deps, request);
    const body = parseInput(settingsBody, request.body);
    if (body.notificationPreference) await setNotificationPreference(deps.ctx, active, body.notificationPreference, requestInfo(request));
    return { notificationPreference: body.notificationPreference ?? active.user.notificationPreference, representative: isVerifiedRepresentative(active.user) };
  });

  // Adding or changing the number: the password, then a code sent to the new number.
  app.post('/me/phone', async (request) => {
    const active = await requireActiveSession(deps, request);
    const body = parseInput(phoneBody, request.body);
    return { pending: await startPhoneChange(deps.ctx, active, body, requestInfo(request)) };
  });

  app.post('/me/phone/verify', async (request) => {
    const active = await requireActiveSession(deps, request);
    const body = parseInput(phoneCodeBody, request.body);
    return { phone: await confirmPhoneChange(deps.ctx, active, body.code, requestInfo(request)) };
  });

  app.post('/me/phone/remove', async (request) => {
    const active = await requireActiveSession(deps, request);
    const body = parseInput(passwordBody, request.body);
    await removePhone(deps.ctx, active, body.password, requestInfo(request));
    return { phone: null };
  });
}

const authorizationBody = z.object({ enabled: z.boolean(), password: passwordField.optional(), code: z.string().max(64).optional() });
const passwordChangeBody = z.object({ currentPassword: passwordField, newPassword: newPasswordField });

export async function meSecurityApi(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { ctx } = deps;

  app.get('/me/devices', async (request) => {
    const active = await requireActiveSession(deps, request);
    const page = parsePage(request.query);
    const { devices, trust } = await listDevices(ctx, active.user);
    const now = ctx.clock.now();
    const { items, ...paging } = pageOfList(devices, page);
    return { devices: items.map((d) => encodeDevice(d, now, trust, active.link.id)), ...paging };
  });

  app.delete<{ Params: { id: string } }>('/me/devices/:id', async (request, reply) => {
    const active = await requireActiveSession(deps, request);
    await revokeDevice(ctx, active.user, request.params.id, { kind: 'user', userId: active.user.id }, requestInfo(request));
    // This browser's own device: its session has ended, and its cookie goes with it.
    if (request.params.id === active.link.id) deps.cookies.clear(reply, 'session');
    return reply.code(204).send();
  });

  app.delete('/me/devices', async (request, reply) => {
    const active = await requireActiveSession(deps, request);
    await revokeAllDevices(ctx, active.user, { kind: 'user', userId: active.user.id }, requestInfo(request));
    deps.cookies.clear(reply, 'session');
    return reply.code(204).send();
  });

  app.get('/me/sessions', async (request) => {
    const active = await requireActiveSession(deps, request);
    const page = parsePage(request.query);
    const sessions = await listSessions(ctx, active.user);
    const { items, ...paging } = pageOfList(sessions, page);
    return { sessions: items.map((s) => encodeSession(s, sessionExpiresAt(s, ctx.policy), active.session.id)), ...paging };
  });

  app.delete<{ Params: { id: string } }>('/me/sessions/:id', async (request, reply) => {
    const active = await requireActiveSession(deps, request);
    await revokeSession(ctx, active.user, request.params.id, { kind: 'user', userId: active.user.id }, requestInfo(request));
    if (request.params.id === active.session.id) deps.cookies.clear(reply, 'session');
    return reply.code(204).send();
  });

  app.get('/me/sign-ins', async (request) => {
    const active = await requireActiveSession(deps, request);
    const page = parsePage(request.query);
    const { rows, total } = await listSignIns(ctx, active.user, page);
    return { signIns: rows.map((row) => encodeSignIn({ ...row, userEmail: undefined, userName: undefined })), page: page.page, pageSize: page.pageSize, total };
  });

  app.post('/me/authorization', async (request) => {
    const active = await requireActiveSession(deps, request);
    const body = parseInput(authorizationBody, request.body);
    return setAuthorization(ctx, active, body, requestInfo(request));
  });

  app.post('/me/password', async (request, reply) => {
    const active = await requireActiveSession(deps, request);
    const body = parseInput(passwordChangeBody, request.body);
    await changePassword(ctx, active, body.currentPassword, body.newPassword, requestInfo(request));
    return reply.code(204).send();
  });
}
