// Seeds the demo company "Acme Logistics": a verified authorized representative and two employees.
import type { FlowContext } from '../flows/context.js';
import { createCompany, createUser, type NewUser } from '../flows/provisioning.js';

export interface DemoAccount {
  email: string;
  password: string;
  description: string;
}

// Demo-only passwords, printed on start; `doorman demo` refuses to run in production.
const DEMO_USERS: (Omit<NewUser, 'companyId'> & { description: string })[] = [
  { email: 'anna@acme.example', password: 'demo-anna-2026', name: 'Anna Kowalska', role: 'authorized', personalDataVerified: true, locale: 'en', description: 'authorized representative, verified' },
  { email: 'piotr@acme.example', password: 'demo-piotr-2026', name: 'Piotr Nowak', role: 'employee', phone: '+48601234789', locale: 'en', description: 'employee with a phone number' },
  { email: 'ewa@acme.example', password: 'demo-ewa-2026', name: 'Ewa Wiśniewska', role: 'employee', locale: 'en', description: 'employee without a phone number' },
];

export async function seedDemo(ctx: FlowContext): Promise<DemoAccount[]> {
  const existing = await ctx.store.findUserByEmail(DEMO_USERS[0]!.email);
  const companyId = existing?.companyId ?? (await createCompany(ctx, { name: 'Acme Logistics' }));
  for (const user of DEMO_USERS) {
    if (await ctx.store.findUserByEmail(user.email)) continue;
    const { description: _description, ...fields } = user;
    await createUser(ctx, { ...fields, companyId, twoFactor: true });
  }
  return DEMO_USERS.map(({ email, password, description }) => ({ email, password, description }));
}
