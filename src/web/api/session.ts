// The signed-in session behind a request's cookie, for API routes that need one.
import type { FastifyRequest } from 'fastify';
import { unauthenticated } from '../../flows/errors.js';
import { lookupSession, type ActiveSession } from '../../flows/sessions.js';
import type { WebDeps } from '../deps.js';

export async function requireActiveSession(deps: WebDeps, request: FastifyRequest): Promise<ActiveSession> {
  const active = await lookupSession(deps.ctx, deps.cookies.read(request, 'session'));
  if (!active) throw unauthenticated();
  return active;
}
