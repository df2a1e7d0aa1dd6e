// REST calls: JSON in and out, the session's CSRF token on state-changing requests, and Uma's
// error body (`{error: {code, message, field?}}`) turned into an `ApiError` whose message is the
// server's own text.

export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  opId?: string;
}

export class ApiError extends Error {
  readonly code: string;
  readonly field?: string;
  readonly status: number;
  readonly opId?: string;

  constructor(body: ErrorBody, status = 0) {
    super(body.message);
    this.code = body.code;
    this.field = body.field;
    this.status = status;
    this.opId = body.opId;
  }
}

let csrf: string | null = null;

/** The session's CSRF token (rendered into the page; else asked from `/api/auth`). */
export async function csrfToken(): Promise<string> {
  if (csrf) return csrf;
  const rendered = document.querySelector<HTMLInputElement>("input[name=csrf_token]")?.value;
  if (rendered) {
    csrf = rendered;
    return csrf;
  }
  const auth = await api<{ csrfToken?: string }>("GET", "/api/auth");
  csrf = auth.csrfToken ?? "";
  return csrf;
}

type StepUp = (message: string) => Promise<boolean>;
let stepUp: StepUp | null = null;

/** Who asks for a second factor when an action wants a recent one (see `stepup.ts`). */
export function onStepUp(fn: StepUp): void {
  stepUp = fn;
}

/** Asks for a second factor (when a page registered how); resolves true once one was given. */
export async function stepUpFor(message: string): Promise<boolean> {
  return stepUp ? stepUp(message) : false;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = await csrfToken();
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError({ code: "network", message: "Uma cannot be reached. Check your connection." });
  }
  const text = await resp.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const err = (data as { error?: ErrorBody } | null)?.error;
    // A sensitive action wants a recent second factor: ask for it, then try once more.
    if (resp.status === 403 && err?.code === "step_up_required" && stepUp && !retried) {
      if (await stepUp(err.message)) return api<T>(method, path, body, true);
    }
    // Signed out: to the login page (where a 401 is itself the answer, e.g. an unknown passkey).
    if (resp.status === 401 && !location.pathname.startsWith("/login")) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    }
    throw new ApiError(
      err ?? { code: "http", message: `The server answered ${resp.status} ${resp.statusText}` },
      resp.status,
    );
  }
  return data as T;
}

export const get = <T = unknown>(path: string) => api<T>("GET", path);

/** The message of anything thrown, for showing to a person. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  return "Something went wrong.";
}
