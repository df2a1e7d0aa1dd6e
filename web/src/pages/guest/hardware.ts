// Guest page, Hardware tab: CPU and memory, disks (grow), network devices and the CD/DVD media.
import { request } from "../../live";
import { h, fill } from "../../ui/dom";
import { messageOf } from "../../ui/api";
import { bytes } from "../../ui/format";
import { disableWithReason } from "../../ui/progress";
import { tasks } from "../../ui/tasks";
import { openDialog } from "../../ui/dialog";
import { field, validate, showServerError, clearErrors, str, num, revalidateOnInput } from "../../ui/form";
import * as cluster from "../../ui/cluster";
import { b, vmid, caps, isCt, res, progressEl, followTask, reloadTab, loading, failed, readOnlyNote, loadConfig, forgetConfig, sendConfig, type Config } from "./context";

const DISK_KEY = isCt ? /^(rootfs|mp\d+)$/ : /^(scsi|virtio|sata|ide)\d+$/;

export async function hardwareTab(panel: HTMLElement): Promise<void> {
  loading(panel);
  let cfg: Config;
  try {
    cfg = await loadConfig();
  } catch (e) {
    failed(panel, e, () => void hardwareTab(panel));
    return;
  }
  const can = caps.configure;
  const form = h("form", { class: "section-form", novalidate: true });
  const fs = h("fieldset", { disabled: !can });
  fs.append(h("legend", { class: "sr-only", text: "CPU and memory" }));
  const grid = h("div", { class: "form-grid" });
  grid.append(field({ label: "Cores", name: "cores", type: "number", min: 1, max: 512, step: 1, required: true, value: cfg.cores ?? 1 }));
  if (!isCt) grid.append(field({ label: "Sockets", name: "sockets", type: "number", min: 1, max: 16, step: 1, required: true, value: cfg.sockets ?? 1 }));
  grid.append(field({ label: "Memory", name: "memory", type: "number", min: isCt ? 16 : 64, max: 4194304, step: 1, required: true, suffix: "MiB", value: cfg.memory ?? 512 }));
  if (isCt) grid.append(field({ label: "Swap", name: "swap", type: "number", min: 0, max: 4194304, step: 1, suffix: "MiB", value: cfg.swap ?? 0 }));
  else grid.append(field({ label: "CPU type", name: "cpu", value: cfg.cpu ?? "", placeholder: "default (kvm64)", pattern: "[a-zA-Z0-9_.,=+;\\-]{1,128}", patternMessage: "A Proxmox CPU type such as host or x86-64-v2-AES." }));
  fs.append(grid);
  const save = h("button", { type: "submit", class: "button button-primary", text: "Save CPU and memory" });
  if (can) fs.append(h("div", { class: "form-actions" }, save));
  form.append(fs);
  revalidateOnInput(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!validate(form)) return;
    const set: Record<string, unknown> = {};
    const del: string[] = [];
    for (const k of isCt ? ["cores", "memory", "swap"] : ["cores", "sockets", "memory"]) {
      const v = num(form, k);
      if (v !== undefined && String(v) !== String(cfg[k] ?? "")) set[k] = v;
    }
    if (!isCt) {
      const cpu = str(form, "cpu");
      if (cpu && cpu !== String(cfg.cpu ?? "")) set.cpu = cpu;
      if (!cpu && cfg.cpu !== undefined) del.push("cpu");
    }
    save.disabled = true;
    save.classList.add("is-busy");
    if (await sendConfig(form, set, del)) cfg = await loadConfig().catch(() => cfg);
    save.disabled = false;
    save.classList.remove("is-busy");
  });

  // Disks
  const disks = Object.entries(cfg).filter(([k, v]) => DISK_KEY.test(k) && !String(v).includes("media=cdrom"));
  const diskList = h(
    "ul",
    { class: "disk-list" },
    ...disks.map(([k, v]) => {
      const size = /size=([0-9.]+[KMGT]?)/.exec(String(v))?.[1] ?? "?";
      const grow = h("button", { type: "button", class: "button button-small", text: "Grow…", onclick: () => growDisk(k, size) });
      if (!can) disableWithReason(grow, "Needs VM.Config.Disk");
      return h("li", null, h("span", null, h("strong", { text: k }), " ", h("code", { class: "muted break", text: String(v).split(",")[0] ?? "" })), h("span", { class: "button-row" }, h("span", { class: "num", text: size }), can ? grow : null));
    }),
  );
  // Network and CD drive (read here; the bridge is chosen when creating)
  const nets = Object.entries(cfg).filter(([k]) => /^net\d+$/.test(k));
  const cd = !isCt ? Object.entries(cfg).find(([k, v]) => /^(ide|sata)\d+$/.test(k) && String(v).includes("media=cdrom")) : undefined;
  fill(
    panel,
    can ? null : readOnlyNote("hardware settings", "VM.Config.*"),
    h("h3", { class: "sr-only", text: "CPU and memory" }),
    form,
    h("div", { class: "subhead" }, h("h3", { text: "Disks" })),
    disks.length ? diskList : h("p", { class: "empty", text: "No disks." }),
    h("div", { class: "subhead" }, h("h3", { text: "Network" })),
    nets.length
      ? h("ul", { class: "disk-list" }, ...nets.map(([k, v]) => h("li", null, h("strong", { text: k }), h("code", { class: "muted break", text: String(v) }))))
      : h("p", { class: "empty", text: "No network devices." }),
    cd ? h("div", { class: "subhead" }, h("h3", { text: "CD/DVD drive" }), can ? h("button", { type: "button", class: "button button-small", text: "Change media…", onclick: () => changeIso(cd[0], String(cd[1])) }) : null) : null,
    cd ? h("p", null, h("code", { class: "break", text: String(cd[1]).split(",")[0] === "none" ? "No media inserted" : String(cd[1]).split(",")[0] ?? "" })) : null,
  );
}

function growDisk(disk: string, current: string): void {
  const dlg = openDialog({
    title: `Grow disk ${disk}`,
    body: [
      h("p", { class: "muted", text: `Current size: ${current}. Disks can only grow; the file system inside must be extended afterwards.` }),
      field({ label: "Add", name: "add", type: "number", min: 1, max: 65536, step: 1, required: true, suffix: "GiB", value: 8, hint: "Counts against the pool's disk quota." }),
    ],
    submitLabel: "Grow disk",
    onSubmit: async (form) => {
      if (!validate(form)) return false;
      const ack = await request<{ upid?: string }>("vm:resize", { vmid, disk, size: `+${num(form, "add")}G` });
      if ("error" in ack) {
        showServerError(form, { ...ack.error, field: ack.error.field === "size" ? "add" : ack.error.field });
        return false;
      }
      forgetConfig();
      if (ack.upid) {
        tasks.started(ack.upid, vmid);
        followTask(ack.upid, `Growing ${disk}`, `Disk ${disk} grown.`);
      } else {
        reloadTab("hardware");
      }
      return true;
    },
  });
  if (dlg.form) revalidateOnInput(dlg.form);
}

async function changeIso(key: string, current: string): Promise<void> {
  let groups: Awaited<ReturnType<typeof cluster.isos>> = [];
  try {
    groups = await cluster.isos(res.node ?? b.node);
  } catch (e) {
    fill(progressEl, h("span", { class: "alert alert-error", text: messageOf(e) }));
    return;
  }
  const options: [string, string][] = [["none", "No media (eject)"]];
  for (const g of groups) for (const i of g.items) options.push([i.volid, `${cluster.volumeName(i.volid)} (${g.storage}, ${bytes(i.size)})`]);
  openDialog({
    title: "Change CD/DVD media",
    body: [
      field({ label: "ISO image", name: "iso", options, value: current.split(",")[0] ?? "none", hint: options.length === 1 ? "No ISO images on storages you may use." : undefined }),
    ],
    submitLabel: "Change media",
    onSubmit: async (form) => {
      const iso = str(form, "iso");
      const ok = await sendConfig(form, { [key]: `${iso},media=cdrom` }, []);
      if (ok) reloadTab("hardware");
      return ok;
    },
  });
}
