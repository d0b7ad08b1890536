// What the web layer is given by the composition root.
import type { Config } from '../config.js';
import type { DevMailbox } from '../delivery/devMailbox.js';
import type { FlowContext } from '../flows/context.js';
import type { Limiter } from '../store/rateLimits.js';
import type { CookieJar } from './cookies.js';

export type LimiterName = 'loginPerIp' | 'loginFailuresPerAccount' | 'loginFailuresPerTrustedBrowser' | 'codeFailuresPerIp' | 'sendsPerIp' | 'reauthFailuresPerAccount';

export interface WebDeps {
  config: Config;
  ctx: FlowContext;
  cookies: CookieJar;
  limiters: Record<LimiterName, Limiter>;
  mailbox: DevMailbox | undefined;
  ping(): Promise<void>;
}
