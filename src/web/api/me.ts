// JSON API for the signed-in user's own account: settings and phone number.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isVerifiedRepresentative, setNotificationPreference } from '../../flows/accountSettings.js';
import { confirmPhoneChange, removePhone, startPhoneChange } from '../../flows/changePhone.js';
import type { WebDeps } from '../deps.js';
import { requestInfo } from '../security.js';
import { parseInput, passwordField } from '../validation.js';
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
