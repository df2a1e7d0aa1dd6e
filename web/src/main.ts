// Shared module loaded by every page: theme handling. Page islands register themselves here as
// they are added (one small module per page).
import { initTheme } from "./theme";

initTheme(document);
