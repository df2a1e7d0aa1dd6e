// The clone dialog (guest page, and the wizard's template list): name, id, pool, node, linked or
// full, storage. Validated on the client; the server's answer is shown in the dialog. On success
// the new guest's task goes to the task bar and `onStarted` gets its id and task.
import { request } from "../live";
import { h } from "./dom";
import { openDialog } from "./dialog";
import { field, validate, showServerError, str, num, bool, revalidateOnInput } from "./form";
import * as cluster from "./cluster";
import { tasks } from "./tasks";
import { messageOf } from "./api";

export interface CloneSource {
  vmid: number;
  name?: string;
  type?: string;
  node?: string;
  template?: boolean;
  pool?: string;
}

export const NAME_PATTERN = "[a-zA-Z0-9]([a-zA-Z0-9.\\-]{0,61}[a-zA-Z0-9])?";
export const NAME_MESSAGE = "Use letters, digits, '-' and '.', starting and ending with a letter or digit (at most 63).";

export async function openCloneDialog(src: CloneSource, onStarted: (vmid: number, upid: string | undefined, name: string) => void): Promise<void> {
  let poolList: cluster.PoolInfo[] = [];
  let nodeList: cluster.NodeInfo[] = [];
  try {
    [poolList, nodeList] = await Promise.all([cluster.pools(), cluster.nodes()]);
  } catch (e) {
    openDialog({ title: "Clone", body: h("p", { class: "alert alert-error", text: messageOf(e) }), actions: [{ label: "Close", primary: true }] });
    return;
  }
  const mine = poolList.filter((p) => p.allowManage);
  const choices = (mine.length ? mine : poolList).map((p) => [p.poolid, p.poolid] as const);
  const defaultPool = mine.find((p) => p.poolid === src.pool)?.poolid ?? choices[0]?.[0] ?? "";
  const kind = src.type === "lxc" ? "container" : "VM";
  const nameField = field({
    label: src.type === "lxc" ? "Host name" : "Name",
    name: "name",
    value: src.name ? `${src.name}-clone`.slice(0, 63) : "",
    required: true,
    pattern: NAME_PATTERN,
    patternMessage: NAME_MESSAGE,
  });
  const idField = field({ label: "New ID", name: "newVmId", type: "number", min: 100, max: 999999999, step: 1, placeholder: "next free", hint: "Leave empty for the next free id.", aliases: ["newVmId", "vmid"] });
  const poolField = choices.length
    ? field({ label: "Pool", name: "poolId", options: choices, value: defaultPool, required: true, hint: "The clone counts against this pool's quota." })
    : h("p", { class: "alert alert-warn", text: "You have no pool to put a clone in. Ask an administrator for a pool." });
  const nodeField = field({ label: "Node", name: "target", options: nodeList.filter((n) => n.status === "online").map((n) => [n.node, n.node] as const), value: src.node ?? "" });
  const fullField = field({
    label: "Full clone (independent copy)",
    name: "fullClone",
    type: "checkbox",
    value: !src.template,
    disabled: !src.template,
    hint: src.template ? "A linked clone shares the template's disks and is created faster." : "Only templates can be cloned linked; this is a full copy.",
  });
  const storageField = field({ label: "Target storage", name: "storage", options: [["", "Same as the source"]], hint: "For full clones." });
  const body = h("div", { class: "form-grid" }, nameField, idField, poolField, nodeField, h("div", { class: "span-all" }, fullField), storageField);

  const loadStorages = async () => {
    const sel = storageField.querySelector("select")!;
    const node = (nodeField.querySelector("select") as HTMLSelectElement).value || src.node || "";
    try {
      const list = node ? await cluster.storages(node) : [];
      const cur = sel.value;
      sel.replaceChildren(h("option", { value: "", text: "Same as the source" }), ...list.map((s) => h("option", { value: s.storage, text: s.storage })));
      sel.value = list.some((s) => s.storage === cur) ? cur : "";
    } catch {
      // The default (same storage) still works.
    }
  };
  const syncFull = () => {
    const full = (fullField.querySelector("input") as HTMLInputElement).checked;
    storageField.hidden = !full;
  };
  nodeField.querySelector("select")?.addEventListener("change", () => void loadStorages());
  fullField.querySelector("input")?.addEventListener("change", syncFull);
  syncFull();
  void loadStorages();
  cluster.nextId().then((id) => ((idField.querySelector("input") as HTMLInputElement).placeholder = `next free: ${id}`)).catch(() => undefined);

  const dlg = openDialog({
    title: `Clone ${src.template ? "template" : kind} ${src.name ?? src.vmid}`,
    body,
    submitLabel: "Clone",
    onSubmit: async (form) => {
      if (!choices.length) return false;
      if (!validate(form)) return false;
      const payload: Record<string, unknown> = {
        sourceVmId: src.vmid,
        name: str(form, "name"),
        poolId: str(form, "poolId"),
        fullClone: src.template ? bool(form, "fullClone") : true,
      };
      const id = num(form, "newVmId");
      if (id !== undefined) payload.newVmId = id;
      const target = str(form, "target");
      if (target && target !== src.node) payload.target = target;
      const storage = str(form, "storage");
      if (storage && payload.fullClone) payload.storage = storage;
      const ack = await request<{ upid?: string; vmid?: number }>("vm:clone", payload);
      if ("error" in ack) {
        showServerError(form, { ...ack.error, field: ack.error.field === "sourceVmId" ? undefined : ack.error.field });
        return false;
      }
      if (ack.upid) tasks.started(ack.upid, ack.vmid ?? null);
      onStarted(ack.vmid ?? 0, ack.upid, String(payload.name));
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}
