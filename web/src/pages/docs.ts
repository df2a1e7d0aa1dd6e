// The knowledge base pages. The list and the article are rendered by the server (the search
// form works without JavaScript); this module adds the shell (live banners, tasks) and
// highlights the article's code blocks by their language. Readers who are not signed in (the
// docs made public) get the pages without the shell, and a sign-in link that brings them back.
import { initShell, type Boot } from "../ui/shell";
import { boot } from "../ui/dom";
import { dateTime } from "../ui/format";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import dockerfile from "highlight.js/lib/languages/dockerfile";
import go from "highlight.js/lib/languages/go";
import ini from "highlight.js/lib/languages/ini";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import nginx from "highlight.js/lib/languages/nginx";
import powershell from "highlight.js/lib/languages/powershell";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

if (boot<Partial<Boot>>().user) {
  initShell<Boot>();
} else {
  const signin = document.querySelector<HTMLAnchorElement>("[data-signin]");
  if (signin) signin.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}

const languages = { bash, css, diff, dockerfile, go, ini, javascript, json, nginx, powershell, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
hljs.registerAliases(["sh", "console"], { languageName: "bash" });
hljs.registerAliases(["yml"], { languageName: "yaml" });
hljs.registerAliases(["toml"], { languageName: "ini" });
hljs.registerAliases(["js"], { languageName: "javascript" });
hljs.registerAliases(["ts"], { languageName: "typescript" });
hljs.registerAliases(["html"], { languageName: "xml" });

for (const code of document.querySelectorAll<HTMLElement>(".article-body pre code[class*='language-']")) {
  const lang = [...code.classList].find((c) => c.startsWith("language-"))?.slice(9);
  if (lang && hljs.getLanguage(lang)) hljs.highlightElement(code);
}

for (const t of document.querySelectorAll<HTMLTimeElement>("time[data-ms]")) {
  const ms = Number(t.dataset.ms);
  if (Number.isFinite(ms)) {
    t.textContent = dateTime(ms);
    t.dateTime = new Date(ms).toISOString();
  }
}

// A cover that does not load (moved, or from a host the page may not show) is left out.
const cover = document.querySelector<HTMLImageElement>(".doc-cover");
if (cover) {
  const hide = () => (cover.hidden = true);
  cover.addEventListener("error", hide);
  if (cover.complete && cover.naturalWidth === 0) hide();
}
