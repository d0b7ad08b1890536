// JSON API of the company console, for verified authorized users of the company only.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { revokeAllSessions, revokeDevice } from '../../flows/accountSecurity.js';
import { companySignIns, employeeDetail, findEmployee, getPolicy, listEmployees, updatePolicy } from '../../flows/companyConsole.js';
import { encodeDevice, encodeEmployee, encodeSignIn } from '../../flows/encode.js';
import type { WebDeps } from '../deps.js';
import { csvRow } from '../csv.js';
import { requestInfo } from '../security.js';
import { parseInput, parsePage, parseSignInFilter } from '../validation.js';
import { requireActiveSession } from './session.js';

const policyBody = z
  .object({ requireAuthorization: z.boolean(), trustedDeviceDays: z.number().int().min(1).max(365), smsAllowed: z.boolean(), password: z.string().max(1024) })
  .partial()
  .strict();

export const CSV_EXPORT_LIMIT = 100_000;

export async function companyApi(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { ctx } = deps;

  app.get('/company/employees', async (request) => {
    const active = await requireActiveSession(deps, request);
    const page = parsePage(request.query);
    const { rows, total, company } = await listEmployees(ctx, active, page);
    const required = company?.requireVerificationAt !== null && company?.requireVerificationAt !== undefined;
    return { employees: rows.map((r) => encodeEmployee(r.user, r.lastSignInAt, required)), page: page.page, pageSize: page.pageSize, total };
  });

  app.get<{ Params: { id: string } }>('/company/employees/:id', async (request) => {
    const active = await requireActiveSession(deps, request);
    const { employee, devices, signIns, trust, companyRequires, lastSignInAt } = await employeeDetail(ctx, active, request.params.id);
    const now = ctx.clock.now();
    return {
      employee: encodeEmployee(employee, lastSignInAt, companyRequires),
      devices: devices.map((d) => encodeDevice(d, now, trust)),
      signIns: signIns.map((s) => encodeSignIn({ ...s, userEmail: undefined, userName: undefined })),
    };
  });

  app.delete<{ Params: { id: string; deviceId: string } }>('/company/employees/:id/devices/:deviceId', async (request, reply) => {
    const active = await requireActiveSession(deps, request);
    const employee = await findEmployee(ctx, active, request.params.id);
    await revokeDevice(ctx, employee, request.params.deviceId, { kind: 'company', userId: active.user.id }, requestInfo(request));
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string } }>('/company/employees/:id/sessions', async (request, reply) => {
    const active = await requireActiveSession(deps, request);
    const employee = await findEmployee(ctx, active, request.params.id);
    await revokeAllSessions(ctx, employee, { kind: 'company', userId: active.user.id }, requestInfo(request));
    return reply.code(204).send();
  });

  app.get('/company/policy', async (request) => {
    const active = await requireActiveSession(deps, request);
    return { policy: await getPolicy(ctx, active) };
  });

  app.patch('/company/policy', async (request) => {
    const active = await requireActiveSession(deps, request);
    const { password, ...changes } = parseInput(policyBody, request.body);
    return { policy: await updatePolicy(ctx, active, changes, requestInfo(request), password) };
  });

  app.get('/company/sign-ins', async (request) => {
    const active = await requireActiveSession(deps, request);
    const page = parsePage(request.query);
    const { rows, total } = await companySignIns(ctx, active, parseSignInFilter(request.query), page);
    return { signIns: rows.map((row) => encodeSignIn(row)), page: page.page, pageSize: page.pageSize, total };
  });

  app.get('/company/sign-ins.csv', async (request, reply) => {
    const active = await requireActiveSession(deps, request);
    const { rows } = await companySignIns(ctx, active, parseSignInFilter(request.query), { offset: 0, limit: CSV_EXPORT_LIMIT });
    let body = csvRow(['time_utc', 'employee_email', 'employee_name', 'outcome', 'reason', 'new_device', 'ip', 'browser']);
    for (const row of rows.map((r) => encodeSignIn(r))) {
      body += csvRow([row.at, row.employee?.email, row.employee?.name, row.outcome, row.reason, row.newDevice, row.ip, row.browser]);
    }
    return reply
      .header('Content-Type', 'text/csv; charset=utf-8')
      .header('Content-Disposition', 'attachment; filename="sign-ins.csv"')
      .header('Cache-Control', 'no-store')
      .send(body);
  });
}
