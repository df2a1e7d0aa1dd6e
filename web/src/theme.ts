// Light/dark theme: follows the system unless the user picked one with a [data-theme-toggle]
// button; the choice is kept in localStorage ("uma-theme").

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
      applyTheme(doc, now === "dark" ? "light" : "dark");
      label();
    });
    prefersDark.addEventListener("change", label);
  }
}
