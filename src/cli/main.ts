// The doorman command: serve, migrate, company and user provisioning, demo.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, unknownSettings, type Config } from '../config.js';
import { createDoorman } from '../compose.js';
import { z } from 'zod';
import { createCompany, createUser, setCompanyPolicy, updateUser } from '../flows/provisioning.js';
import { DoormanError } from '../flows/errors.js';
import { openDatabase } from '../store/db.js';
import { migrateToLatest } from '../store/migrate.js';
import { loggerOptions } from '../web/app.js';
import { emailField, localeField, nameField, newEmailField, newPasswordField, phoneField, roleField } from '../web/validation.js';
import { sendDailyDigests } from '../flows/sendDigests.js';
import { seedDemo } from './demo.js';

const USAGE = `Usage: doorman <command>

  serve                         run the service (migrates first)
  migrate                       apply database migrations
  company create --name NAME    create a company, print its id
  user create --email E --name N --company ID [--role employee|authorized]
              [--phone +48...] [--locale en|pl] [--no-two-factor] [--verified]
                                create a user; the password is read from standard input
  user update --email E [--role employee|authorized] [--two-factor on|off]
              [--verified on|off --verified-by NAME] [--phone +48...|none]
                                change an account (switching verification on de-authorizes its devices)
  company policy --id ID [--require-authorization on|off] [--trusted-days N] [--sms on|off]
                                set a company's policy
  outbox [--retry ID | --retry-all]
                                list messages that failed or were given up on; put them back in line
  digest                        send the representatives' daily digests now
  demo                          seed the demo company and serve

Configuration comes from DOORMAN_* environment variables (see README).`;

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function serve(config: Config, beforeListen?: (doorman: Awaited<ReturnType<typeof createDoorman>>) => Promise<void>): Promise<void> {
  const doorman = await createDoorman(config, { logger: config.logLevel === 'silent' ? false : loggerOptions(config.logLevel) });
  if (beforeListen) await beforeListen(doorman);
  const shutdown = async (signal: string) => {
    doorman.app.log.info({ signal }, 'shutting down');
    await doorman.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  await doorman.app.listen({ port: config.port, host: config.host });
}

async function withContext<T>(config: Config, work: (doorman: Awaited<ReturnType<typeof createDoorman>>) => Promise<T>): Promise<T> {
  const doorman = await createDoorman(config, { dispatch: false });
  try {
    return await work(doorman);
  } finally {
    await doorman.close();
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** An id (22 base64url characters) or another bare value that begins with one dash; `--words` stay options. */
const isDashedId = (value: string) => /^-[A-Za-z0-9_-]{21}$/.test(value) || /^-[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(value);

/**
 * parseArgs, except that a value starting with a dash is taken as the value (ids are base64url and
 * may begin with `-`): `--company -x1` reads as `--company=-x1`. `--name --force` is still refused.
 */
function parseOptions<O extends Options>(args: string[], options: O) {
  const flags = new Set(Object.keys(options).map((name) => `--${name}`));
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.slice(2);
    if (flags.has(arg) && options[name]?.type === 'string' && next !== undefined && isDashedId(next) && !flags.has(next)) {
      joined.push(`${arg}=${next}`);
      i += 1;
    } else joined.push(arg);
  }
  return parseArgs({ args: joined, options, strict: true, allowPositionals: false });
}

function parseOrExit<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } }, value: unknown, flag: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(`--${flag}: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}

function onOff(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw new ConfigError(`--${flag} must be on or off`);
}

export async function main(argv: string[]): Promise<void> {
  const [command, sub] = argv;
  const config = loadConfig();
  for (const name of unknownSettings()) process.stderr.write(`doorman: warning: ${name} is not a Doorman setting and is ignored (a typo?)\n`);
  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate': {
      const database = openDatabase(config.databaseUrl);
      const applied = await database.unbounded(() => migrateToLatest(database.db));
      await database.close();
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
      return;
    }
    case 'company': {
      if (sub === 'policy') {
        const { values } = parseOptions(argv.slice(2), { id: { type: 'string' }, 'require-authorization': { type: 'string' }, 'trusted-days': { type: 'string' }, sms: { type: 'string' } });
        if (!values.id) throw new ConfigError('usage: doorman company policy --id ID [--require-authorization on|off] [--trusted-days N] [--sms on|off]');
        const policy = await withContext(config, (d) =>
          setCompanyPolicy(d.ctx, values.id as string, {
            requireAuthorization: onOff(values['require-authorization'], 'require-authorization'),
            trustedDeviceDays: values['trusted-days'] === undefined ? undefined : parseOrExit(z.coerce.number().int().min(1).max(365), values['trusted-days'], 'trusted-days'),
            smsAllowed: onOff(values.sms, 'sms'),
          }),
        );
        process.stdout.write(`${JSON.stringify(policy)}\n`);
        return;
      }
      const { values } = parseOptions(argv.slice(2), { name: { type: 'string' } });
      if (sub !== 'create' || !values.name) throw new ConfigError('usage: doorman company create --name NAME');
      const name = parseOrExit(nameField, values.name, 'name');
      const id = await withContext(config, (d) => createCompany(d.ctx, { name }));
      process.stdout.write(`${id}\n`);
      return;
    }
    case 'user': {
      if (sub === 'update') {
        const { values } = parseOptions(argv.slice(2), {
          email: { type: 'string' },
          role: { type: 'string' },
          'two-factor': { type: 'string' },
          verified: { type: 'string' },
          'verified-by': { type: 'string' },
          phone: { type: 'string' },
        });
        if (!values.email) throw new ConfigError('usage: doorman user update --email E [options]');
        await withContext(config, async (d) => {
          const user = await d.ctx.store.findUserByEmail(parseOrExit(emailField, values.email, 'email'));
          if (!user) throw new ConfigError(`no account with e-mail ${values.email}`);
          await updateUser(d.ctx, user.id, {
            role: values.role === undefined ? undefined : parseOrExit(roleField, values.role, 'role'),
            twoFactor: onOff(values['two-factor'], 'two-factor'),
            personalDataVerified: onOff(values.verified, 'verified'),
            verifiedBy: values['verified-by'] === undefined ? undefined : parseOrExit(nameField, values['verified-by'], 'verified-by'),
            phone: values.phone === undefined ? undefined : values.phone === 'none' ? null : parseOrExit(phoneField, values.phone, 'phone'),
          });
        });
        process.stdout.write('updated\n');
        return;
      }
      const { values } = parseOptions(argv.slice(2), {
        email: { type: 'string' },
        name: { type: 'string' },
        company: { type: 'string' },
        role: { type: 'string', default: 'employee' },
        phone: { type: 'string' },
        locale: { type: 'string', default: 'en' },
        'no-two-factor': { type: 'boolean', default: false },
        verified: { type: 'boolean', default: false },
      });
      if (sub !== 'create' || !values.email || !values.name || !values.company) {
        throw new ConfigError('usage: doorman user create --email E --name N --company ID (password on stdin)');
      }
      const password = parseOrExit(newPasswordField, await readStdin(), 'password (stdin)');
      const id = await withContext(config, (d) =>
        createUser(d.ctx, {
          email: parseOrExit(newEmailField, values.email, 'email'),
          name: parseOrExit(nameField, values.name, 'name'),
          companyId: values.company as string,
          role: parseOrExit(roleField, values.role, 'role'),
          phone: values.phone ? parseOrExit(phoneField, values.phone, 'phone') : null,
          locale: parseOrExit(localeField, values.locale, 'locale'),
          twoFactor: !values['no-two-factor'],
          personalDataVerified: values.verified,
          password,
        }),
      );
      process.stdout.write(`${id}\n`);
      return;
    }
    case 'outbox': {
      const { values } = parseOptions(argv.slice(1), { retry: { type: 'string' }, 'retry-all': { type: 'boolean', default: false } });
      await withContext(config, async (d) => {
        const store = d.ctx.store;
        const now = d.ctx.clock.now();
        if (values.retry) {
          if (!(await store.retryMessage(values.retry, now))) throw new ConfigError(`no failed message ${values.retry}`);
          process.stdout.write(`queued ${values.retry} again\n`);
          return;
        }
        const stuck = await store.listStuckMessages(1000);
        if (values['retry-all']) {
          for (const message of stuck) await store.retryMessage(message.id, now);
          process.stdout.write(`queued ${stuck.length} message(s) again\n`);
          return;
        }
        if (stuck.length === 0) process.stdout.write('no failed messages\n');
        for (const m of stuck) {
          process.stdout.write(
            `${m.id}  ${m.status.padEnd(7)}  ${m.channel.padEnd(5)}  ${m.template.padEnd(26)}  attempts ${String(m.attempts).padStart(2)}  created ${new Date(m.createdAt).toISOString()}  ${m.lastError ?? ''}\n`,
          );
        }
      });
      return;
    }
    case 'digest': {
      const { count, delivered } = await withContext(config, async (d) => {
        const queued = await sendDailyDigests(d.ctx);
        // With no mail server the dev mailbox is the running server's, in its memory: it delivers them from the outbox.
        if (d.mailbox) return { count: queued, delivered: false };
        await d.dispatcher.runOnce();
        return { count: queued, delivered: true };
      });
      process.stdout.write(delivered ? `${count} digest(s) sent\n` : `${count} digest(s) queued; the running server delivers them to its dev mailbox\n`);
      return;
    }
    case 'demo': {
      if (config.production) throw new ConfigError('doorman demo refuses to run with NODE_ENV=production');
      return serve(config, async (doorman) => {
        const accounts = await seedDemo(doorman.ctx);
        const base = config.publicUrl.origin;
        const lines = [
          '',
          'Doorman demo: company "Acme Logistics", account authorization on for everyone.',
          ...accounts.map((a) => `  ${a.email.padEnd(28)} password: ${a.password}   (${a.description})`),
          '',
          `  Log in:       ${base}/login`,
          doorman.mailbox
            ? `  Dev mailbox:  ${base}/dev/mailbox   (codes and notifications arrive here)`
            : `  Codes and notifications go out through DOORMAN_SMTP_URL${config.smsUrl ? ' and DOORMAN_SMS_URL' : ' (SMS is off: no DOORMAN_SMS_URL)'}.`,
          '',
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    }
    default:
      process.stdout.write(`${USAGE}\n`);
      if (command && command !== 'help' && command !== '--help') process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DoormanError) {
    process.stderr.write(`doorman: ${error.message}\n`);
    process.exit(2);
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  // A wrong option, or what the operating system or the database said (a port in use, a host that
  // does not resolve, a database that is down, an SQLite path that is a folder): the message says
  // it, a stack trace would hide it.
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`doorman: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  // Before the service listens, the only peer it connects to is the database.
  const unreachable =
    error instanceof Error &&
    ((typeof code === 'string' && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET)$/.test(code)) ||
      /timeout exceeded when trying to connect|Connection terminated/i.test(error.message));
  if (unreachable) {
    process.stderr.write(`doorman: cannot reach the database named by DOORMAN_DATABASE_URL: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}\n`);
    process.exit(1);
  }
  if (error instanceof Error && typeof code === 'string' && /^(E[A-Z]+|[0-9A-Z]{5}|SQLITE_[A-Z_]+)$/.test(code)) {
    process.stderr.write(`doorman: ${error.message || 'failed'} (${code})\n`);
    process.exit(1);
  }
  process.stderr.write(`doorman: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
