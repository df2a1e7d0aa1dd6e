// Light/dark theme: follows the system unless the user picked one with a [data-theme-toggle]
// button or in Settings; the choice is kept in localStorage ("uma-theme") and, signed in, in
// their profile (handed to each browser they sign in with).
import { api } from "./ui/api";

export type Theme = "light" | "dark" | "system";

const KEY = "uma-theme";

export function storedTheme(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === "light" || t === "dark" ? t : "system";
  } catch {
    return "system";
  }
}

export function effectiveTheme(theme: Theme, prefersDark: boolean): "light" | "dark" {
  if (theme === "system") return prefersDark ? "dark" : "light";
  return theme;
}

export function applyTheme(doc: Document, theme: Theme): void {
  doc.documentElement.dataset.theme = theme;
  try {
    if (theme === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // Storage may be disabled; the theme still applies to this page.
  }
}

/** Keeps a signed-in person's choice in their profile (quietly: the page already shows it). */
export async function saveTheme(doc: Document, theme: Theme): Promise<void> {
  if (!("signedIn" in doc.documentElement.dataset)) return;
  await api("PUT", "/api/profile", { theme });
}

export function initTheme(doc: Document): void {
  applyTheme(doc, storedTheme());
  const prefersDark = window.matchMedia("(prefers-color-scheme: dark)");
  for (const button of doc.querySelectorAll<HTMLButtonElement>("[data-theme-toggle]")) {
    const label = () => {
      const now = effectiveTheme(storedTheme(), prefersDark.matches);
      button.textContent = now === "dark" ? "Light theme" : "Dark theme";
      button.setAttribute("aria-pressed", String(now === "dark"));
    };
    label();
    button.addEventListener("click", () => {
      const now = effectiveTheme(storedTheme(), prefersDark.matches);
      const next = now === "dark" ? "light" : "dark";
      applyTheme(doc, next);
      label();
      saveTheme(doc, next).catch(() => {
        // Kept in this browser; the profile is updated at the next choice.
      });
    });
    prefersDark.addEventListener("change", label);
  }
}
