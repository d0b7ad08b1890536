// Company console pages for verified authorized users: employees, one employee's devices and sign-ins, policy, sign-in log and CSV.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { revokeAllSessions, revokeDevice } from '../../flows/accountSecurity.js';
import { companySignIns, employeeDetail, findEmployee, getPolicy, listEmployees, updatePolicy } from '../../flows/companyConsole.js';
import { encodeDevice, encodeEmployee, encodeSignIn } from '../../flows/encode.js';
import { DoormanError, invalidRequest } from '../../flows/errors.js';
import { lookupSession, type ActiveSession } from '../../flows/sessions.js';
import type { WebDeps } from '../deps.js';
import { pickLocale, refusalTitle } from '../i18n.js';
import { refuseNulInForms, requestInfo, toPublicError } from '../security.js';
import { parsePage, parseSignInFilter } from '../validation.js';
import { createPageKit, dateTimeOf, formOf, msToText, refusalText } from './kit.js';
import { safeNext } from './routes.js';

const policyForm = z.object({
  requireAuthorization: z.literal('on').optional(),
  smsAllowed: z.literal('on').optional(),
  trustedDeviceDays: z.coerce.number().int(),
  password: z.string().max(1024).optional(),
});

function lenientPage(page: string | undefined, pageSize: string | undefined) {
  try {
    return parsePage({ page, pageSize });
  } catch {
    return parsePage({});
  }
}

/** A query string with one parameter replaced. */
function withParam(query: Record<string, unknown>, name: string, value: string | number): string {
  const params = new URLSearchParams();
  for (const [key, v] of Object.entries(query)) if (typeof v === 'string' && key !== name && v !== '') params.set(key, v);
  params.set(name, String(value));
  return `/company?${params.toString()}`;
}

export async function companyPages(app: FastifyInstance, deps: WebDeps): Promise<void> {
  refuseNulInForms(app);
  const { ctx, cookies } = deps;
  const { csrf, html, message, tr, toSignIn } = createPageKit(app, deps);

  /** Signed-in verified representatives only; others get a page saying so (403), visitors go to log in. */
  const withRepresentative = async (request: FastifyRequest, reply: FastifyReply, work: (active: ActiveSession) => Promise<unknown>) => {
    const active = await lookupSession(ctx, cookies.read(request, 'session'));
    if (!active) return toSignIn(request, reply, request.method === 'GET' ? safeNext(request.url, '/company') : '/company');
    try {
      return await work(active);
    } catch (error) {
      const mapped = toPublicError(error);
      if (mapped.status >= 500) throw error;
      // Back to the console from a refused form (a wrong password, say); to the account when the console itself is refused.
      const back = mapped.body.error === 'forbidden' ? { href: '/account', text: 'account.title' as const } : { href: '/company', text: 'company.title' as const };
      return message(request, reply, mapped.status, (t) => t(refusalTitle(mapped.status)), refusalText(mapped.body), back.href, (t) => t(back.text), active.user.locale);
    }
  };

  app.get<{ Querystring: Record<string, string> }>('/company', (request, reply) =>
    withRepresentative(request, reply, async (active) => {
      const query = request.query;
      // A page number out of range (edited by hand, or a list that shrank) shows the first page.
      const employeesPage = lenientPage(query.epage, query.epageSize);
      const logPage = lenientPage(query.page, query.pageSize);
      const rawFilter = { employee: query.employee, from: query.from, to: query.to, newDevicesOnly: query.newDevicesOnly };
      let filter: ReturnType<typeof parseSignInFilter>;
      try {
        filter = parseSignInFilter(Object.fromEntries(Object.entries(rawFilter).filter(([, v]) => v)));
      } catch (error) {
        if (error instanceof DoormanError && error.code === 'invalid_request') throw invalidRequest(error.message, { reason: 'bad_filter' });
        throw error;
      }
      // A date filter's "to" day is included whole.
      if (filter.to !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(query.to ?? '')) filter.to += 24 * 3600_000;
      const [{ rows, total, company }, log, policy, everyone] = await Promise.all([
        listEmployees(ctx, active, employeesPage),
        companySignIns(ctx, active, filter, logPage),
        getPolicy(ctx, active),
        ctx.store.listEmployees(active.user.companyId, { offset: 0, limit: 1000 }),
      ]);
      const required = company?.requireVerificationAt != null;
      const locale = pickLocale(request, active.user.locale);
      const pages = (count: number, size: number) => Math.max(1, Math.ceil(count / size));
      const csvParams = new URLSearchParams(Object.entries(rawFilter).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
      return html(
        request,
        reply,
        'company.eta',
        {
          csrf: reply.generateCsrf(),
          companyName: company?.name ?? '',
          employees: rows.map((r) => ({ ...encodeEmployee(r.user, r.lastSignInAt, required), lastSignInText: msToText(r.lastSignInAt) })),
          employeesPage: {
            page: employeesPage.page,
            pages: pages(total, employeesPage.pageSize),
            total,
            prev: employeesPage.page > 1 ? withParam(query, 'epage', employeesPage.page - 1) : null,
            next: employeesPage.page < pages(total, employeesPage.pageSize) ? withParam(query, 'epage', employeesPage.page + 1) : null,
          },
          allEmployees: everyone.map((e) => ({ id: e.user.id, name: e.user.displayName })),
          policy,
          filter: { employee: query.employee ?? '', from: query.from ?? '', to: query.to ?? '', newDevicesOnly: filter.newDevicesOnly },
          signIns: log.rows.map((r) => ({ ...encodeSignIn(r, locale), atText: msToText(r.at) })),
          signInsPage: {
            page: logPage.page,
            pages: pages(log.total, logPage.pageSize),
            total: log.total,
            prev: logPage.page > 1 ? withParam(query, 'page', logPage.page - 1) : null,
            next: logPage.page < pages(log.total, logPage.pageSize) ? withParam(query, 'page', logPage.page + 1) : null,
          },
          csvHref: `/api/v1/company/sign-ins.csv?${csvParams.toString()}`,
          notice: query.saved ? tr(request, 'account.saved', undefined, active.user.locale) : undefined,
        },
        200,
        active.user.locale,
      );
    }),
  );

  app.get<{ Params: { id: string }; Querystring: { saved?: string } }>('/company/employees/:id', (request, reply) =>
    withRepresentative(request, reply, async (active) => {
      const { employee, devices, signIns, trust, companyRequires, lastSignInAt } = await employeeDetail(ctx, active, request.params.id);
      const now = ctx.clock.now();
      const locale = pickLocale(request, active.user.locale);
      return html(
        request,
        reply,
        'employee.eta',
        {
          csrf: reply.generateCsrf(),
          employee: encodeEmployee(employee, lastSignInAt, companyRequires),
          notice:
            request.query.saved === 'device' ? tr(request, 'company.deviceRevoked', undefined, active.user.locale) : request.query.saved === 'sessions' ? tr(request, 'company.sessionsEnded', undefined, active.user.locale) : undefined,
          devices: devices.map((d) => {
            const view = encodeDevice(d, now, trust, undefined, locale);
            return { ...view, lastSignInText: msToText(d.lastSignInAt), trustedUntilText: view.trustedUntil ? dateTimeOf(view.trustedUntil) : '' };
          }),
          signIns: signIns.map((r) => ({ ...encodeSignIn({ ...r, userEmail: undefined, userName: undefined }, locale), atText: msToText(r.at) })),
        },
        200,
        active.user.locale,
      );
    }),
  );

  app.post('/company/policy', { preHandler: csrf }, (request, reply) =>
    withRepresentative(request, reply, async (active) => {
      const form = policyForm.safeParse(formOf(request));
      if (!form.success) throw invalidRequest('The trusted-device lifetime must be a number of days.', { reason: 'trusted_device_days' });
      await updatePolicy(
        ctx,
        active,
        { requireAuthorization: form.data.requireAuthorization === 'on', smsAllowed: form.data.smsAllowed === 'on', trustedDeviceDays: form.data.trustedDeviceDays },
        requestInfo(request),
        form.data.password,
      );
      return reply.redirect('/company?saved=1', 303);
    }),
  );

  app.post<{ Params: { id: string; deviceId: string } }>('/company/employees/:id/devices/:deviceId/revoke', { preHandler: csrf }, (request, reply) =>
    withRepresentative(request, reply, async (active) => {
      const employee = await findEmployee(ctx, active, request.params.id);
      await revokeDevice(ctx, employee, request.params.deviceId, { kind: 'company', userId: active.user.id }, requestInfo(request));
      return reply.redirect(`/company/employees/${encodeURIComponent(employee.id)}?saved=device`, 303);
    }),
  );

  app.post<{ Params: { id: string } }>('/company/employees/:id/sessions/revoke', { preHandler: csrf }, (request, reply) =>
    withRepresentative(request, reply, async (active) => {
      const employee = await findEmployee(ctx, active, request.params.id);
      await revokeAllSessions(ctx, employee, { kind: 'company', userId: active.user.id }, requestInfo(request));
      return reply.redirect(`/company/employees/${encodeURIComponent(employee.id)}?saved=sessions`, 303);
    }),
  );
}
