// JSON API for signing in: login, challenge, send, verify, session, logout.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CHANNELS } from '../../domain/policy.js';
import { encodeDevice, encodeSession, encodeUser } from '../../flows/encode.js';
import { noChallenge } from '../../flows/errors.js';
import { companyApi } from './company.js';
import { meApi, meSecurityApi } from './me.js';
import { requireActiveSession } from './session.js';
import { getChallenge } from '../../flows/getChallenge.js';
import { lookupSession, signOut } from '../../flows/sessions.js';
import type { WebDeps } from '../deps.js';
import { assertSameOriginJson, requestInfo } from '../security.js';
import { browserTokens, passwordStep, sendStep, verifyStep } from '../signInSteps.js';
import { emailField, newPasswordField, parseInput, passwordField } from '../validation.js';

const loginBody = z.object({ email: emailField, password: passwordField });
const sendBody = z.object({ channel: z.enum(CHANNELS) });
const verifyBody = z.object({
  code: z.string().max(64, 'code is too long'),
  trustDevice: z.boolean().optional().default(false),
  newPassword: newPasswordField.optional(),
});


export async function authApi(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const origin = deps.config.publicUrl.origin;
  app.addHook('onRequest', async (request) => {
    assertSameOriginJson(request, origin);
  });

  const currentSession = (request: FastifyRequest) => lookupSession(deps.ctx, deps.cookies.read(request, 'session'));
  const requireSession = (request: FastifyRequest) => requireActiveSession(deps, request);

  app.post('/login', async (request, reply) => {
    const body = parseInput(loginBody, request.body);
    const result = await passwordStep(deps, request, reply, body.email, body.password);
    if (result.status === 'authenticated') return { status: 'authenticated', user: encodeUser(result.user) };
    return { status: 'verification_required', challenge: result.challenge };
  });

  app.get('/login/challenge', async (request) => {
    const { view } = await getChallenge(deps.ctx, browserTokens(deps, request));
    return { challenge: view };
  });

  app.post('/login/challenge/send', async (request) => {
    const body = parseInput(sendBody, request.body);
    return { challenge: await sendStep(deps, request, body.channel) };
  });

  app.post('/login/challenge/verify', async (request, reply) => {
    const body = parseInput(verifyBody, request.body);
    if (!deps.cookies.read(request, 'pending')) throw noChallenge();
    const done = await verifyStep(deps, request, reply, body.code, body.trustDevice, body.newPassword);
    return { status: 'authenticated', user: encodeUser(done.user), device: encodeDevice(done.link, deps.ctx.clock.now(), done.trust, done.link.id) };
  });

  app.get('/session', async (request) => {
    const active = await requireSession(request);
    return {
      user: encodeUser(active.user),
      device: encodeDevice(active.link, deps.ctx.clock.now(), active.trust, active.link.id),
      session: encodeSession(active.session, active.expiresAt, active.session.id),
    };
  });

  await meApi(app, deps);
  await meSecurityApi(app, deps);
  await companyApi(app, deps);

  app.post('/logout', async (request, reply) => {
    const active = await currentSession(request);
    if (active) await signOut(deps.ctx, active, requestInfo(request));
    deps.cookies.clear(reply, 'session');
    // A sign-in waiting for its code is forgotten in this browser too; its challenge stays open, so
    // signing in again here resumes it with the same code.
    deps.cookies.clear(reply, 'pending');
    return reply.code(204).send();
  });
}

