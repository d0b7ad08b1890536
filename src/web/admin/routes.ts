// Admin API: companies and user accounts, behind the bearer token DOORMAN_ADMIN_TOKEN.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { secretsEqual } from '../../domain/tokens.js';
import { DoormanError, unauthenticated } from '../../flows/errors.js';
import { createCompany, createUser, setCompanyPolicy, updateUser } from '../../flows/provisioning.js';
import type { WebDeps } from '../deps.js';
import { assertSameOriginJson } from '../security.js';
import { localeField, nameField, newEmailField, newPasswordField, parseInput, phoneField, roleField, timeZoneField } from '../validation.js';

const companyBody = z.object({ name: nameField });
const userBody = z.object({
  email: newEmailField,
  password: newPasswordField,
  name: nameField,
  companyId: z.string().min(1).max(64),
  role: roleField,
  phone: phoneField.nullable().optional(),
  locale: localeField.optional(),
  twoFactor: z.boolean().optional(),
  personalDataVerified: z.boolean().optional(),
  timeZone: timeZoneField.nullable().optional(),
});
const companyPatch = z
  .object({ requireAuthorization: z.boolean(), trustedDeviceDays: z.number().int().min(1).max(365), smsAllowed: z.boolean() })
  .partial()
  .strict();
const userPatch = z
  .object({
    email: newEmailField,
    password: newPasswordField,
    name: nameField,
    role: roleField,
    phone: phoneField.nullable(),
    locale: localeField,
    twoFactor: z.boolean(),
    personalDataVerified: z.boolean(),
    timeZone: timeZoneField.nullable(),
    verifiedBy: nameField,
  })
  .partial()
  .strict();

export async function adminApi(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const token = deps.config.adminToken;
  app.addHook('onRequest', async (request, reply) => {
    assertSameOriginJson(request, deps.config.publicUrl.origin);
    if (!token) throw new DoormanError(404, 'not_found', 'The admin API is off: set DOORMAN_ADMIN_TOKEN.');
    const header = request.headers.authorization ?? '';
    // The scheme is case-insensitive (RFC 9110 §11.1).
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match?.[1] || !secretsEqual(match[1], token)) {
      reply.header('WWW-Authenticate', 'Bearer realm="doorman-admin"');
      throw unauthenticated();
    }
  });

  app.post('/companies', async (request, reply) => {
    const body = parseInput(companyBody, request.body);
    const id = await createCompany(deps.ctx, body);
    return reply.code(201).send({ id });
  });

  app.post('/users', async (request, reply) => {
    const body = parseInput(userBody, request.body);
    const id = await createUser(deps.ctx, body);
    return reply.code(201).send({ id });
  });

  app.patch<{ Params: { id: string } }>('/companies/:id', async (request) => {
    const body = parseInput(companyPatch, request.body);
    return { policy: await setCompanyPolicy(deps.ctx, request.params.id, body) };
  });

  app.patch<{ Params: { id: string } }>('/users/:id', async (request) => {
    const body = parseInput(userPatch, request.body);
    await updateUser(deps.ctx, request.params.id, body);
    return { id: request.params.id };
  });
}
