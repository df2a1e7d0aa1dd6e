// Shared module loaded by every page: theme handling, and the current admin tab kept in view
// when the tabs scroll sideways on a narrow screen. Each page adds its own small module
// (src/pages/*.ts) for its live parts.
import { initTheme } from "./theme";

initTheme(document);
document
  .querySelector<HTMLElement>(".admin-nav [aria-current=page]")
  ?.scrollIntoView({ block: "nearest", inline: "center" });
