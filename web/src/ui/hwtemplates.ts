// Hardware templates as the create wizard applies them: cores, sockets, memory and the network
// bridge fill the wizard's fields; a few other keys are set on the new guest right after it is
// created; the rest need an administrator and are left out.

export interface HwTemplate {
  id: string;
  name: string;
  description?: string | null;
  category?: string;
  config: Record<string, string | number | boolean>;
  owner?: string;
  shared?: boolean;
  system?: boolean;
  createdAt?: number;
  updatedAt?: number;
}

/** Keys the wizard fills in. */
export const WIZARD_KEYS = ["cores", "sockets", "memory", "net0"];

/** Keys set on the new guest after it is created. */
export const APPLY_AFTER = new Set(["cpu", "vga", "agent", "tablet", "balloon", "onboot", "bios", "machine", "numa"]);

/** What the wizard does with the other keys of a template. */
export function templateExtras(t: { config: HwTemplate["config"] } | undefined): { apply: [string, string][]; skip: string[] } {
  const apply: [string, string][] = [];
  const skip: string[] = [];
  for (const [k, v] of Object.entries(t?.config ?? {})) {
    if (WIZARD_KEYS.includes(k)) continue;
    if (APPLY_AFTER.has(k)) apply.push([k, String(v)]);
    else skip.push(k);
  }
  return { apply, skip };
}
