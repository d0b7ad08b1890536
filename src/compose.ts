// The composition root: opens the database, wires flows to storage and delivery, and builds the web app.
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { ACCOUNT_FAILURES_PER_HOUR, ACCOUNT_LOCK_SECONDS, PENDING_COOKIE_EXTRA_SECONDS, SESSION_ABSOLUTE_SECONDS, SESSION_IDLE_SECONDS, type Config } from './config.js';
import { DevMailbox } from './delivery/devMailbox.js';
import { TemplateRenderer } from './delivery/renderer.js';
import type { SmppTransport } from './delivery/smpp.js';
import { createSmtpTransport, type SmtpTransport } from './delivery/smtp.js';
import type { VerificationPolicy } from './domain/policy.js';
import type { FlowContext } from './flows/context.js';
import { OutboxDispatcher, SentNotRecorded } from './flows/dispatchOutbox.js';
import { createPasswordHasher } from './flows/passwordHasher.js';
import { msUntilNextDigest, sendDailyDigests } from './flows/sendDigests.js';
import { systemClock, type Clock, type MessageTransport, type PasswordHasher } from './flows/ports.js';
import { openDatabase, type OpenDatabase } from './store/db.js';
import { KyselyStore } from './store/kysely-store.js';
import { QueryTemplates } from './store/queryTemplates.js';
import { migrateToLatest } from './store/migrate.js';
import { createLimiters, createSendLimits } from './store/rateLimits.js';
import { buildApp } from './web/app.js';
import { createCookieJar } from './web/cookies.js';
import type { LimiterName } from './web/deps.js';

export function policyFrom(config: Config): VerificationPolicy {
  return {
    codeLength: config.codeLength,
    codeTtlMs: config.codeTtlSeconds * 1000,
    resendCooldownMs: config.resendCooldownSeconds * 1000,
    maxCodeAttempts: config.maxCodeAttempts,
    accountFailuresPerWindow: ACCOUNT_FAILURES_PER_HOUR,
    accountFailureWindowMs: 60 * 60 * 1000,
    accountLockMs: ACCOUNT_LOCK_SECONDS * 1000,
    trustedDeviceDays: config.trustedDeviceDays,
    sessionAbsoluteMs: SESSION_ABSOLUTE_SECONDS * 1000,
    sessionIdleMs: SESSION_IDLE_SECONDS * 1000,
    pendingCookieExtraMs: PENDING_COOKIE_EXTRA_SECONDS * 1000,
  };
}

export interface Doorman {
  config: Config;
  app: FastifyInstance;
  ctx: FlowContext;
  database: OpenDatabase;
  dispatcher: OutboxDispatcher;
  mailbox: DevMailbox | undefined;
  close(): Promise<void>;
}

export interface DoormanOptions {
  clock?: Clock;
  logger?: FastifyServerOptions['logger'];
  hasher?: PasswordHasher;
  /** Start the outbox dispatcher (default true). */
  dispatch?: boolean;
}

export async function createDoorman(config: Config, options: DoormanOptions = {}): Promise<Doorman> {
  // Transport events are logged once the app (and its logger) exists.
  let logEvent = (_event: string, _fields: Record<string, unknown>) => {};
  const database = openDatabase(config.databaseUrl, {
    // A server checkpoints in the background; a one-off command (no dispatcher) has no need to.
    backgroundCheckpoints: options.dispatch !== false,
    onCheckpointerStopped: (error) => logEvent('sqlite checkpoint worker stopped; commits checkpoint again', { error: String(error ?? 'exited') }),
  });
  await database.unbounded(() => migrateToLatest(database.db));
  const store = new KyselyStore(database.db, database.kind, database.prepared, database.readVersion, new QueryTemplates({ compiled: database.keepPrepared }));
  const clock = options.clock ?? systemClock;

  // The dev mailbox stands in while no e-mail transport is configured, outside production only;
  // it then takes SMS too unless an SMS provider is set. With real e-mail and no SMS provider, SMS is off.
  const mailbox = !config.production && !config.smtpUrl ? new DevMailbox() : undefined;
  let smtp: SmtpTransport | undefined;
  let email: MessageTransport;
  if (config.smtpUrl) {
    smtp = createSmtpTransport(config.smtpUrl, config.mailFrom, config.publicUrl.hostname);
    email = smtp;
  } else if (mailbox) {
    email = mailbox.transport();
  } else {
    throw new Error('no e-mail transport: set DOORMAN_SMTP_URL');
  }
  let smpp: SmppTransport | undefined;
  let sms: MessageTransport | undefined = mailbox?.transport();
  // SMS providers load only when configured: each library costs memory in every instance.
  if (config.smsUrl?.startsWith('smpp:')) {
    const { SmppTransport } = await import('./delivery/smpp.js');
    smpp = new SmppTransport(new URL(config.smsUrl), { onEvent: (event, fields) => logEvent(event, fields) });
    sms = smpp;
  } else if (config.smsUrl) {
    const { HttpSmsTransport } = await import('./delivery/httpSms.js');
    sms = new HttpSmsTransport(new URL(config.smsUrl), config.smsSigningKey ?? '');
  }
  const noSms: MessageTransport = { send: async () => Promise.reject(new Error('no SMS transport configured')) };

  const limits = config.rateLimits;
  const sendLimits = await createSendLimits(database, {
    emailPerAccountHour: { points: limits.emailPerAccountPerHour, durationSeconds: 3600 },
    emailPerAccountDay: { points: limits.emailPerAccountPerDay, durationSeconds: 86_400 },
    smsPerAccountHour: { points: limits.smsPerAccountPerHour, durationSeconds: 3600 },
    smsPerAccountDay: { points: limits.smsPerAccountPerDay, durationSeconds: 86_400 },
    smsPerNumberDay: { points: limits.smsPerNumberPerDay, durationSeconds: 86_400 },
    smsPerIpHour: { points: limits.smsPerIpPerHour, durationSeconds: 3600 },
    // (Not consulted when the cooldown is 0: a window of 0 would never end in rate-limiter-flexible.)
    confirmationResend: { points: 1, durationSeconds: Math.max(1, config.resendCooldownSeconds) },
  });

  const limiters = await createLimiters<LimiterName>(database, {
    loginPerIp: { points: limits.loginPerIpPerMinute, durationSeconds: 60 },
    loginFailuresPerAccount: { points: limits.loginFailuresPerAccount, durationSeconds: 15 * 60 },
    // A browser the account trusts has a budget of its own when the account's is spent (see signInSteps).
    loginFailuresPerTrustedBrowser: { points: limits.loginFailuresPerAccount, durationSeconds: 15 * 60 },
    codeFailuresPerIp: { points: limits.codeFailuresPerIpPerMinute, durationSeconds: 60 },
    sendsPerIp: { points: limits.sendsPerIpPerHour, durationSeconds: 60 * 60 },
    reauthFailuresPerAccount: { points: limits.loginFailuresPerAccount, durationSeconds: 15 * 60 },
  });

  let dispatcher: OutboxDispatcher | undefined;
  const ctx: FlowContext = {
    store,
    clock,
    policy: policyFrom(config),
    secret: config.secret,
    hasher: options.hasher ?? (await createPasswordHasher()),
    publicUrl: config.publicUrl,
    messagesQueued: () => dispatcher?.wake(),
    sendLimits,
    reauthLimit: limiters.reauthFailuresPerAccount,
    sms: { enabled: sms !== undefined, countries: config.smsCountries },
  };

  const app = await buildApp(
    { config, ctx, cookies: createCookieJar(config.secureCookies), limiters, mailbox: config.production ? undefined : mailbox, ping: database.ping },
    options.logger ?? false,
  );

  dispatcher = new OutboxDispatcher(
    {
      store,
      clock,
      secret: config.secret,
      publicUrl: config.publicUrl,
      renderer: new TemplateRenderer(config.publicUrl),
      transports: { email, sms: sms ?? noSms },
      retryBaseMs: config.outbox.retryBaseMs,
      retryMaxMs: config.outbox.retryMaxMs,
      onError: (error, message) => {
        const err = error instanceof Error ? error.message : 'unknown';
        if (!message) app.log.warn({ err }, 'outbox poll failed, will try again');
        else if (error instanceof SentNotRecorded) app.log.warn({ outboxId: message.id, template: message.template, err }, 'message sent, but its record failed: it may go out again after its lease');
        else app.log.warn({ outboxId: message.id, template: message.template, attempts: message.attempts, err }, 'message delivery failed, will retry');
      },
    },
    config.outbox.pollMs,
  );
  logEvent = (event, fields) => app.log.info(fields, event);
  if (options.dispatch !== false) dispatcher.start();

  // The daily digest runs in every instance; entries are taken atomically, so each goes out once.
  let digestTimer: NodeJS.Timeout | undefined;
  const scheduleDigest = () => {
    digestTimer = setTimeout(() => {
      sendDailyDigests(ctx)
        .catch((error: unknown) => app.log.error({ err: error instanceof Error ? error.message : 'unknown' }, 'daily digest failed'))
        .finally(scheduleDigest);
    }, msUntilNextDigest(Date.now(), config.digestHourUtc));
    digestTimer.unref();
  };
  if (options.dispatch !== false) scheduleDigest();

  const started = dispatcher;
  return {
    config,
    app,
    ctx,
    database,
    dispatcher: started,
    mailbox,
    async close() {
      if (digestTimer) clearTimeout(digestTimer);
      await app.close();
      await started.stop();
      smtp?.close();
      smpp?.close();
      await database.close();
    },
  };
}
