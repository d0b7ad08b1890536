// Defends who may use the company console and /me: only a verified authorized user of the same company reaches /company;
// another company's user ids answer 404, never 403; a signed-out visitor gets 401 everywhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany } from '../../src/flows/provisioning.js';
import type { Browser } from '../helpers/httpClient.js';
import { ADMIN_TOKEN, startDoorman, type Running } from '../helpers/harness.js';

let doorman: Running;
type Who = 'visitor' | 'employee' | 'unverifiedRep' | 'rep' | 'otherRep';
const browsers = {} as Record<Who, Browser>;
let target: { id: string; deviceId: string };

beforeAll(async () => {
  doorman = await startDoorman();
  const acme = await createCompany(doorman.doorman.ctx, { name: 'Acme' });
  const other = await createCompany(doorman.doorman.ctx, { name: 'Other' });
  const make = async (fields: Parameters<Running['addUser']>[0]) => {
    const user = await doorman.addUser({ twoFactor: false, ...fields });
    const browser = doorman.browser();
    expect((await browser.post('/api/v1/login', { email: user.email, password: user.password })).status).toBe(200);
    return { user, browser };
  };
  const employee = await make({ companyId: acme, role: 'employee' });
  browsers.employee = employee.browser;
  browsers.unverifiedRep = (await make({ companyId: acme, role: 'authorized', personalDataVerified: false })).browser;
  browsers.rep = (await make({ companyId: acme, role: 'authorized', personalDataVerified: true })).browser;
  browsers.otherRep = (await make({ companyId: other, role: 'authorized', personalDataVerified: true })).browser;
  browsers.visitor = doorman.browser();
  const devices = await employee.browser.get('/api/v1/me/devices');
  target = { id: employee.user.id, deviceId: devices.body.devices[0].id };
});
afterAll(async () => doorman?.close());

type Expect = Record<Who, number>;
const companyOnly = (ok: number, otherCompany: number): Expect => ({ visitor: 401, employee: 403, unverifiedRep: 403, rep: ok, otherRep: otherCompany });
const anySignedIn = (ok: number): Expect => ({ visitor: 401, employee: ok, unverifiedRep: ok, rep: ok, otherRep: ok });

const cases: [string, () => string, unknown, Expect][] = [
  ['GET', () => '/api/v1/company/employees', undefined, companyOnly(200, 200)],
  ['GET', () => `/api/v1/company/employees/${target.id}`, undefined, companyOnly(200, 404)],
  ['GET', () => '/api/v1/company/policy', undefined, companyOnly(200, 200)],
  ['PATCH', () => '/api/v1/company/policy', { smsAllowed: true }, companyOnly(200, 200)],
  ['GET', () => '/api/v1/company/sign-ins', undefined, companyOnly(200, 200)],
  ['GET', () => `/api/v1/company/sign-ins?employee=${target.id}`, undefined, companyOnly(200, 404)],
  ['GET', () => '/api/v1/company/sign-ins.csv', undefined, companyOnly(200, 200)],
  ['DELETE', () => `/api/v1/company/employees/${target.id}/devices/nonexistent`, undefined, companyOnly(404, 404)],
  ['GET', () => '/api/v1/me/devices', undefined, anySignedIn(200)],
  ['GET', () => '/api/v1/me/sessions', undefined, anySignedIn(200)],
  ['GET', () => '/api/v1/me/sign-ins', undefined, anySignedIn(200)],
  ['GET', () => '/api/v1/me/settings', undefined, anySignedIn(200)],
  ['GET', () => '/api/v1/session', undefined, anySignedIn(200)],
  // Last, as they sign the employee out: another account's device id is 404 for everyone but its owner.
  ['DELETE', () => `/api/v1/me/devices/${target.deviceId}`, undefined, { visitor: 401, employee: 204, unverifiedRep: 404, rep: 404, otherRep: 404 }],
  ['DELETE', () => `/api/v1/company/employees/${target.id}/sessions`, undefined, companyOnly(204, 404)],
];

describe('authorization matrix', () => {
  // In every row the employee (whose device and sessions are the targets) goes last.
  const order: Who[] = ['visitor', 'unverifiedRep', 'otherRep', 'rep', 'employee'];
  it.each(cases)('%s %s', async (method, path, body, expected) => {
    for (const who of order) {
      if (who === 'employee' && method === 'DELETE' && path().endsWith('/sessions')) continue;
      const reply = await browsers[who].request(method, path(), body);
      expect(reply.status, `${who} → ${method} ${path()}: ${reply.text.slice(0, 200)}`).toBe(expected[who]);
    }
  });

  it('another company\'s representative sees only their own company', async () => {
    const employees = await browsers.otherRep.get('/api/v1/company/employees');
    expect(employees.body.employees.map((e: any) => e.id)).not.toContain(target.id);
    const signIns = await browsers.otherRep.get('/api/v1/company/sign-ins');
    expect(signIns.body.signIns.every((s: any) => s.employee.id !== target.id)).toBe(true);
  });
});

describe("a representative's verified personal data", () => {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  it.each([
    ['a new name', { name: 'Completely Different Person' }, 403],
    ['a new e-mail address', { email: 'someone-else@acme.example' }, 403],
    ['a new name verified again in the same change', { name: 'Renamed Rep', personalDataVerified: true, verifiedBy: 'HR desk' }, 200],
    ['a change of locale only', { locale: 'pl' }, 200],
  ])('after %s the console answers %s', async (_name, patch, status) => {
    const companyId = await createCompany(doorman.doorman.ctx, { name: `Rep Co ${Math.random()}` });
    const rep = await doorman.addUser({ companyId, role: 'authorized', personalDataVerified: true, twoFactor: false });
    const browser = doorman.browser();
    expect((await browser.post('/api/v1/login', { email: rep.email, password: rep.password })).status).toBe(200);
    expect((await browser.get('/api/v1/company/policy')).status).toBe(200);
    expect((await doorman.browser().request('PATCH', `/api/v1/admin/users/${rep.id}`, patch, admin)).status).toBe(200);
    expect((await browser.get('/api/v1/company/policy')).status).toBe(status);
  });
});
