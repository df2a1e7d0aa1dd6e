// Passkeys in the browser: the server's WebAuthn options (binary values in base64url) become the
// arguments of navigator.credentials.create/get, and the browser's answer goes back as JSON in
// the same encoding. The ceremonies themselves are the server's (/api/auth/passkeys…).
import { api, ApiError } from "./api";

/** A ceremony the server started: its id and the options for the browser. */
export interface Ceremony {
  ceremonyId: string;
  options: { publicKey: Record<string, unknown>; mediation?: string | null };
}

/** Whether this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

function fromB64url(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function toB64url(buf: ArrayBuffer | ArrayBufferView | null | undefined): string | undefined {
  if (!buf) return undefined;
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The options without the `null`s the browser's dictionaries refuse. */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = clean(x);
    return out;
  }
  return v;
}

function withIds(list: unknown): unknown {
  return Array.isArray(list) ? list.map((c: { id: string }) => ({ ...c, id: fromB64url(c.id) })) : list;
}

/** What to tell a person whose browser prompt ended without a passkey. */
export function passkeyProblem(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  const name = e instanceof DOMException ? e.name : "";
  switch (name) {
    case "NotAllowedError":
    case "AbortError":
      return "The passkey prompt was closed or timed out. Try again when you're ready.";
    case "InvalidStateError":
      return "This device already holds a passkey for your account here.";
    case "SecurityError":
      return "This browser refused passkeys for this address. Reach Uma by its name over HTTPS.";
    case "NotSupportedError":
      return "This device can't make a passkey Uma accepts.";
    default:
      return e instanceof Error ? e.message : "The passkey didn't work.";
  }
}

/** Makes a passkey for the options of `POST /api/auth/passkeys/register`; the answer as JSON. */
export async function createPasskey(options: Ceremony["options"]): Promise<object> {
  const pk = clean(options.publicKey) as Record<string, any>;
  pk.challenge = fromB64url(pk.challenge);
  pk.user = { ...pk.user, id: fromB64url(pk.user.id) };
  pk.excludeCredentials = withIds(pk.excludeCredentials);
  const cred = (await navigator.credentials.create({ publicKey: pk as PublicKeyCredentialCreationOptions })) as PublicKeyCredential | null;
  if (!cred) throw new DOMException("no passkey", "NotAllowedError");
  const r = cred.response as AuthenticatorAttestationResponse;
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: toB64url(r.attestationObject),
      clientDataJSON: toB64url(r.clientDataJSON),
      transports: typeof r.getTransports === "function" ? r.getTransports() : undefined,
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

/** Uses a passkey for the options of a request ceremony; the answer as JSON. */
export async function getPasskey(options: Ceremony["options"]): Promise<object> {
  const pk = clean(options.publicKey) as Record<string, any>;
  pk.challenge = fromB64url(pk.challenge);
  pk.allowCredentials = withIds(pk.allowCredentials);
  const cred = (await navigator.credentials.get({ publicKey: pk as PublicKeyCredentialRequestOptions })) as PublicKeyCredential | null;
  if (!cred) throw new DOMException("no passkey", "NotAllowedError");
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: toB64url(r.authenticatorData),
      clientDataJSON: toB64url(r.clientDataJSON),
      signature: toB64url(r.signature),
      userHandle: toB64url(r.userHandle),
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

/** One of one's own passkeys as a second factor: the fields for /api/login/mfa, /api/auth/step-up, … */
export async function passkeyFactor(): Promise<{ method: "webauthn"; ceremonyId: string; credential: object }> {
  const c = await api<Ceremony>("POST", "/api/auth/passkeys/challenge", {});
  return { method: "webauthn", ceremonyId: c.ceremonyId, credential: await getPasskey(c.options) };
}

/** A passkey just set up, and the recovery codes of a first second factor. */
export interface Added {
  passkey?: { id: string; name: string };
  recoveryCodes?: string[];
  success?: boolean;
}

/**
 * Sets up a passkey named `name` (for the signed-in person, or a sign-in sent to set one up);
 * `password` when the server asked for it (a first second factor long after signing in).
 */
export async function addPasskey(name: string, password?: string): Promise<Added> {
  const c = await api<Ceremony>("POST", "/api/auth/passkeys/register", password ? { name, password } : { name });
  const credential = await createPasskey(c.options);
  return api<Added>("POST", "/api/auth/passkeys", { ceremonyId: c.ceremonyId, name, credential });
}

/** A name for a passkey made on this device ("Chrome on Linux"). */
export function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}
