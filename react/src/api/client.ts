// One way to call the CDSS API: same-origin session cookie, CSRF header on unsafe methods, the chosen
// language, JSON errors turned into ApiError, and a 401 announced so the app can say "your session has expired".
import i18n from "../i18n";

export interface ErrorBody {
  status: number;
  error: string;
  detail: string;
  system?: string;
  fields?: Record<string, unknown>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody | null;

  constructor(status: number, body: ErrorBody | null) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export const SESSION_EXPIRED_EVENT = "cdss:session-expired";

/** The API's page size (REST_FRAMEWORK PAGE_SIZE in backend/cdss/settings/base.py; the audit list's too). */
export const PAGE_SIZE = 50;

/** The CSRF token Django set in its cookie, echoed as X-CSRFToken on unsafe requests. */
export function csrfToken(): string | undefined {
  return cookie("csrftoken");
}

function cookie(name: string): string | undefined {
  return document.cookie
    .split("; ")
    .find((part) => part.startsWith(`${name}=`))
    ?.slice(name.length + 1);
}

/** The language chosen in the web UI, sent as Accept-Language so the API's messages come in it too. */
export function apiLanguage(): string {
  return i18n.language || "ko";
}

/** A response's JSON body; null when it is not JSON. */
export async function jsonBody(response: Response): Promise<unknown> {
  return response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, headers, ...rest } = init;
  const method = (rest.method ?? "GET").toUpperCase();
  const finalHeaders = new Headers(headers);
  finalHeaders.set("Accept", "application/json");
  finalHeaders.set("Accept-Language", apiLanguage());
  if (json !== undefined) finalHeaders.set("Content-Type", "application/json");
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) {
    const token = csrfToken();
    if (token) finalHeaders.set("X-CSRFToken", token);
  }
  const response = await fetch(path, {
    ...rest,
    method,
    headers: finalHeaders,
    credentials: "same-origin",
    body: json !== undefined ? JSON.stringify(json) : rest.body,
  });
  if (response.status === 204) return undefined as T;
  const body = await jsonBody(response);
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith("/api/auth/login")) {
      window.dispatchEvent(new Event(SESSION_EXPIRED_EVENT));
    }
    throw new ApiError(response.status, body as ErrorBody | null);
  }
  return body as T;
}
