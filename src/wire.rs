//! The names browsers receive and send for Uma's enums, as TypeScript: `web/src/generated/wire.ts`
//! is generated from the Rust enums and checked by this test, and the pages import their unions
//! from it, so `tsc` (in `make lint`) fails on a page that uses a name the server does not have.
//! Only enums a page uses are here (the audit actions have their catalogue in docs/audit.md).

use crate::pve::models::ResourceKind;
use crate::pve::path::{GuestKind, PowerAction};
use crate::pve::tasks::TaskState;

fn union(out: &mut String, doc: &str, name: &str, values: &[&str]) {
    out.push_str(&format!("/** {doc} */\nexport type {name} =\n"));
    for v in values {
        out.push_str(&format!("  | \"{v}\"\n"));
    }
    out.pop();
    out.push_str(";\n");
    out.push_str(&format!(
        "export const {}: readonly {name}[] = [",
        const_name(name)
    ));
    out.push_str(
        &values
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str("];\n\n");
}

fn const_name(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out.push('S');
    out
}

/// The file's text.
fn generated() -> String {
    let mut out = String::from(
        "// Generated from the Rust enums by `src/wire.rs`; a test fails when this file is out of date\n\
         // (`UMA_BLESS=1 cargo test wire` writes it). Do not edit.\n\n",
    );
    let power: Vec<_> = PowerAction::ALL.iter().map(|a| a.as_str()).collect();
    union(
        &mut out,
        "A power action (`vm:power`, `POST /api/proxmox/vm/{vmid}/power`).",
        "PowerAction",
        &power,
    );
    let guest: Vec<_> = [GuestKind::Qemu, GuestKind::Lxc]
        .iter()
        .map(|k| k.as_str())
        .collect();
    union(&mut out, "A guest's type.", "GuestKind", &guest);
    let kinds: Vec<_> = ResourceKind::KNOWN.iter().map(|k| k.as_str()).collect();
    union(
        &mut out,
        "The `type` of a cluster resource Uma knows (administrators may also see others, by their Proxmox name).",
        "ResourceKind",
        &kinds,
    );
    let states: Vec<_> = TaskState::ALL.iter().map(|s| s.as_str()).collect();
    union(
        &mut out,
        "Whether a Proxmox task still runs.",
        "TaskState",
        &states,
    );
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    #[test]
    fn wire_types_are_up_to_date() {
        crate::generated::up_to_date("web/src/generated/wire.ts", &super::generated(), "wire");
    }
}
