// Uploading files (`POST /api/upload`): one file per request, with progress, the session's CSRF
// token, and the server's refusal (kind, size, quota) as an `ApiError` whose message is the
// server's own text. Files the server would refuse for their size are refused here first.
import { ApiError, csrfToken, get } from "./api";

export interface Upload {
  id: string;
  url: string;
  name: string;
  contentType: string;
  size: number;
  createdAt: number;
}

export interface UploadOptions {
  /** The doc the file goes with (administrators). */
  docId?: string;
  /** Called with 0..1 as the bytes leave. */
  onProgress?: (fraction: number) => void;
}

/** Kinds the server accepts (it decides by content; this only picks files in dialogs). */
export const ACCEPT_IMAGES = "image/png,image/jpeg,image/gif,image/webp";
export const ACCEPT_ALL = `${ACCEPT_IMAGES},application/pdf`;

let limits: Promise<{ maxUploadBytes: number; quotaBytes: number; usedBytes: number }> | null = null;

/** The size limit and quota in force (asked once per page). */
export function uploadLimits(): Promise<{ maxUploadBytes: number; quotaBytes: number; usedBytes: number }> {
  limits ??= get<{ maxUploadBytes: number; quotaBytes: number; usedBytes: number }>("/api/uploads").catch(() => {
    limits = null;
    return { maxUploadBytes: 0, quotaBytes: 0, usedBytes: 0 };
  });
  return limits;
}

/** "2.4 MB"-style sizes. */
export function fileSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

export async function uploadFile(file: File, opts: UploadOptions = {}): Promise<Upload> {
  const { maxUploadBytes } = await uploadLimits();
  if (maxUploadBytes && file.size > maxUploadBytes) {
    throw new ApiError({ code: "payload_too_large", message: `“${file.name}” is ${fileSize(file.size)}: the largest upload is ${fileSize(maxUploadBytes)}.`, field: "file" }, 413);
  }
  const form = new FormData();
  if (opts.docId) form.append("docId", opts.docId);
  form.append("file", file, file.name);
  const token = await csrfToken();
  return new Promise<Upload>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && opts.onProgress) opts.onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let data: unknown = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        limits = null;
        resolve(data as Upload);
        return;
      }
      const err = (data as { error?: { code: string; message: string; field?: string } } | null)?.error;
      reject(new ApiError(err ?? { code: "http", message: `The upload failed (${xhr.status}).` }, xhr.status));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError({ code: "network", message: "The upload was cut off. Check your connection and try again." })),
    );
    xhr.addEventListener("abort", () => reject(new ApiError({ code: "aborted", message: "The upload was cancelled." })));
    xhr.send(form);
  });
}

/** Files carried by a paste or a drop. */
export function filesOf(data: DataTransfer | null): File[] {
  if (!data) return [];
  return [...data.files];
}
