// A small HTTP client with a cookie jar, acting as one browser.
export interface Cookie {
  value: string;
  persistent: boolean;
  attributes: string;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
  setCookies: string[];
}

export class Browser {
  constructor(
    readonly baseUrl: string,
    private readonly userAgent = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    /** Pass another Browser's jar to act as the same browser against another server. */
    readonly cookies = new Map<string, Cookie>(),
  ) {}

  /** Closing the browser: session cookies (no Max-Age/Expires) are gone, persistent ones stay. */
  restart(): void {
    for (const [name, cookie] of this.cookies) if (!cookie.persistent) this.cookies.delete(name);
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const init: RequestInit = {
      method,
      redirect: 'manual',
      headers: {
        'user-agent': this.userAgent,
        cookie: [...this.cookies].map(([name, c]) => `${name}=${c.value}`).join('; '),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    };
    const response = await fetch(this.baseUrl + path, init);
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) this.store(line);
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text, setCookies };
  }

  get = (path: string, headers?: Record<string, string>) => this.request('GET', path, undefined, headers);
  post = (path: string, body?: unknown, headers?: Record<string, string>) => this.request('POST', path, body ?? {}, headers);

  private store(line: string): void {
    const [pair = '', ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const lower = attrs.map((a) => a.trim().toLowerCase());
    const maxAge = lower.find((a) => a.startsWith('max-age='));
    const expires = lower.find((a) => a.startsWith('expires='));
    const expired = (maxAge && Number(maxAge.slice(8)) <= 0) || (expires && Date.parse(expires.slice(8)) <= Date.now());
    if (expired || value === '') {
      this.cookies.delete(name);
      return;
    }
    this.cookies.set(name, { value, persistent: Boolean(maxAge || expires), attributes: attrs.join(';') });
  }
}
