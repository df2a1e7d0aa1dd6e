// Number, size and time formatting shared by the pages. Binary units throughout, as Proxmox.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  const s = i === 0 ? String(Math.round(v)) : v.toFixed(v >= 100 ? 0 : digits);
  return `${n < 0 ? "-" : ""}${s} ${UNITS[i]}`;
}

/** MiB as a readable size. */
export function mib(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  return bytes(n * 1024 * 1024, n % 1024 === 0 ? 0 : 1);
}

/** GiB as a readable size. */
export function gib(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  return bytes(n * 1024 ** 3, 0);
}

export function pct(fraction: number | null | undefined, digits = 0): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return "—";
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function uptime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || seconds < 0 || !Number.isFinite(seconds)) return "—";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m`;
  return `${Math.floor(seconds)}s`;
}

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString([], {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function tags(raw: string | null | undefined): string[] {
  return (raw ?? "")
    .split(/[;, ]/)
    .map((t) => t.trim())
    .filter(Boolean);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "158 / 256 GiB" when both sizes share a unit, else "900 MiB / 2.0 GiB". */
export function bytesOf(used: number | null | undefined, total: number | null | undefined): string {
  const a = bytes(used);
  const b = bytes(total);
  const ua = a.split(" ")[1];
  const ub = b.split(" ")[1];
  return ua && ua === ub ? `${a.split(" ")[0]} / ${b}` : `${a} / ${b}`;
}

/** "Chrome on Linux"-style, from a user agent. */
export function device(ua: string | null): string {
  if (!ua) return "Unknown browser";
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : (ua.split(/[ /]/)[0] ?? "A browser");
  const os = /Windows/.test(ua) ? "Windows" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  return os ? `${browser} on ${os}` : browser;
}
