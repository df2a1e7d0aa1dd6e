// Shared module loaded by every page: theme handling. Each page adds its own small module
// (src/pages/*.ts) for its live parts.
import { initTheme } from "./theme";

initTheme(document);
