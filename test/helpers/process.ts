// Runs the built `doorman serve` as a real process, for crash and restart tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { Browser } from './httpClient.js';

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServerProcess(env: Record<string, string>, port: number): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['dist/cli/doorman.cjs', 'serve'], {
    env: { ...process.env, DOORMAN_LOG_LEVEL: 'silent', ...env, DOORMAN_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const probe = new Browser(baseUrl);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`doorman exited: ${stderr}`);
    const ok = await probe.get('/healthz').then((r) => r.status === 200, () => false);
    if (ok) break;
    if (i > 100) throw new Error(`doorman did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    baseUrl,
    stop: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
