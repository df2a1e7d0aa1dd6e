// Suggestions for a user or group field: as the person types (two characters or more, a short
// pause), the field's <datalist> fills with the names Uma and, for administrators, the
// directory know (`GET /api/directory/search`). Typing a name freely still works.
import { get } from "./api";
import { h, uid } from "./dom";

interface Found {
  name: string;
  displayName: string | null;
  source: "uma" | "directory" | "group";
}

/** Attaches suggestions to `input`; `kind` says what it names now (it may change). */
export function suggestNames(input: HTMLInputElement, kind: () => "user" | "group"): void {
  const list = h("datalist", { id: uid("names") });
  input.after(list);
  input.setAttribute("list", list.id);
  let timer = 0;
  let asked = "";
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    // The last comma-separated part is what is being typed.
    const text = input.value.split(",").pop()!.trim();
    if (text.length < 2 || `${kind()}:${text}` === asked) return;
    timer = window.setTimeout(async () => {
      asked = `${kind()}:${text}`;
      try {
        const r = await get<{ results: Found[] }>(`/api/directory/search?kind=${kind()}&q=${encodeURIComponent(text)}`);
        list.replaceChildren(
          ...r.results.map((f) => h("option", { value: f.name, label: f.displayName ? `${f.displayName}${f.source === "directory" ? " · directory" : ""}` : f.source === "directory" ? "directory" : "" })),
        );
      } catch {
        // Suggestions are a help; the field works without them.
      }
    }, 200);
  });
}
