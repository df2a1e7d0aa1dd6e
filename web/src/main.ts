// Shared module loaded by every page: theme handling, and the current tab (main and admin
// navigation) kept in view when the tabs scroll sideways on a narrow screen. Each page adds its
// own small module (src/pages/*.ts) for its live parts.
import { initTheme } from "./theme";

initTheme(document);
for (const current of document.querySelectorAll<HTMLElement>(".admin-nav [aria-current=page], .topnav [aria-current=page]")) {
  current.scrollIntoView({ block: "nearest", inline: "center" });
}
