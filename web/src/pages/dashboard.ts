// Dashboard island: the live connection (status, session endings).
import { initLive } from "../live";

initLive(document);
