// Stand-ins for the browser's network objects (jsdom has no WebSocket server and no upload progress).
export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  closed = false;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }
  open() {
    this.onopen?.();
  }
  receive(payload: unknown) {
    this.onmessage?.({ data: JSON.stringify(payload) });
  }
  drop(code = 1006) {
    this.onclose?.({ code });
  }
  close() {
    this.closed = true;
  }
  static latest(): FakeWebSocket {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }
}

export interface XhrScript {
  status: number;
  body: unknown;
  /** upload progress events (loaded bytes) sent before the answer; total is the body size given */
  progress?: number[];
  total?: number;
  /** the answer waits for this (progress is sent at once) */
  hold?: Promise<void>;
}

/** Each send() answers with the next script; records what was sent. */
export function fakeXhr(...scripts: XhrScript[]) {
  const sent: { url: string; headers: Record<string, string>; body: FormData }[] = [];
  class FakeXMLHttpRequest {
    upload: { onprogress: ((event: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    onabort: (() => void) | null = null;
    status = 0;
    responseText = "";
    responseType = "";
    withCredentials = false;
    private url = "";
    private headers: Record<string, string> = {};
    open(_method: string, url: string) {
      this.url = url;
    }
    setRequestHeader(name: string, value: string) {
      this.headers[name] = value;
    }
    abort() {
      this.onabort?.();
    }
    send(body: FormData) {
      const script = scripts[Math.min(sent.length, scripts.length - 1)];
      sent.push({ url: this.url, headers: this.headers, body });
      setTimeout(async () => {
        for (const loaded of script.progress ?? []) this.upload.onprogress?.({ lengthComputable: true, loaded, total: script.total ?? loaded });
        await script.hold;
        this.status = script.status;
        this.responseText = JSON.stringify(script.body);
        this.onload?.();
      }, 5);
    }
  }
  globalThis.XMLHttpRequest = FakeXMLHttpRequest as unknown as typeof XMLHttpRequest;
  return sent;
}

/** fetch answered by URL: the first matching rule wins; unmatched URLs get 404. Records every call. */
type Responder = (url: string, init: RequestInit) => { status: number; body?: unknown };

export function routeFetch(rules: [RegExp | string, Responder | object][]) {
  const calls: { url: string; init: RequestInit }[] = [];
  globalThis.fetch = (async (url: string, init: RequestInit = {}) => {
    calls.push({ url, init });
    const rule = rules.find(([pattern]) => (typeof pattern === "string" ? url.startsWith(pattern) : pattern.test(url)));
    let status = 404;
    let body: unknown = { status: 404, error: "not_found", detail: "no rule" };
    if (rule) {
      const answer = rule[1];
      if (typeof answer === "function") ({ status, body } = (answer as Responder)(url, init));
      else {
        status = 200;
        body = answer;
      }
    }
    return new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
    });
  }) as typeof fetch;
  return calls;
}

export function page<T>(results: T[]) {
  return { count: results.length, next: null, previous: null, results };
}
