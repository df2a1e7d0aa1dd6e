// Generated from the Rust enums by `src/wire.rs`; a test fails when this file is out of date
// (`UMA_BLESS=1 cargo test wire` writes it). Do not edit.

/** A power action (`vm:power`, `POST /api/proxmox/vm/{vmid}/power`). */
export type PowerAction =
  | "start"
  | "shutdown"
  | "reboot"
  | "stop"
  | "suspend"
  | "resume"
  | "reset";
export const POWER_ACTIONS: readonly PowerAction[] = ["start", "shutdown", "reboot", "stop", "suspend", "resume", "reset"];

/** A guest's type. */
export type GuestKind =
  | "qemu"
  | "lxc";
export const GUEST_KINDS: readonly GuestKind[] = ["qemu", "lxc"];

/** The `type` of a cluster resource Uma knows (administrators may also see others, by their Proxmox name). */
export type ResourceKind =
  | "qemu"
  | "lxc"
  | "node"
  | "storage"
  | "pool"
  | "sdn";
export const RESOURCE_KINDS: readonly ResourceKind[] = ["qemu", "lxc", "node", "storage", "pool", "sdn"];

/** Whether a Proxmox task still runs. */
export type TaskState =
  | "running"
  | "stopped";
export const TASK_STATES: readonly TaskState[] = ["running", "stopped"];
