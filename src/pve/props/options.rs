//! Formats of the other options Uma forwards: CPU type, memory, guest agent, display, boot
//! order, container features, startup order.

use super::{Format, SubKey, Val};

/// `cpu` (`pve-vm-cpu-conf`).
pub static CPU: Format = Format {
    what: "a CPU type",
    default_key: Some("cputype"),
    keys: &[
        SubKey {
            name: "cputype",
            value: Val::Token,
        },
        SubKey {
            name: "flags",
            value: Val::Flags,
        },
        SubKey {
            name: "hidden",
            value: Val::Bool,
        },
        SubKey {
            name: "hv-vendor-id",
            value: Val::Token,
        },
        SubKey {
            name: "phys-bits",
            value: Val::Token,
        },
        SubKey {
            name: "guest-phys-bits",
            value: Val::Int(32, 64),
        },
        SubKey {
            name: "reported-model",
            value: Val::Token,
        },
    ],
    aliases: &[],
};

/// `memory` (`[current=]<MiB>`).
pub static MEMORY: Format = Format {
    what: "a memory size",
    default_key: Some("current"),
    keys: &[SubKey {
        name: "current",
        value: Val::Int(16, 4 * 1024 * 1024),
    }],
    aliases: &[],
};

/// `agent`.
pub static AGENT: Format = Format {
    what: "the guest agent setting",
    default_key: Some("enabled"),
    keys: &[
        SubKey {
            name: "enabled",
            value: Val::Bool,
        },
        SubKey {
            name: "freeze-fs-on-backup",
            value: Val::Bool,
        },
        SubKey {
            name: "freeze-fs",
            value: Val::Bool,
        },
        SubKey {
            name: "fstrim_cloned_disks",
            value: Val::Bool,
        },
        SubKey {
            name: "type",
            value: Val::Enum(&["virtio", "isa"]),
        },
    ],
    aliases: &[],
};

/// `vga`.
pub static VGA: Format = Format {
    what: "a display",
    default_key: Some("type"),
    keys: &[
        SubKey {
            name: "type",
            value: Val::Enum(&[
                "cirrus",
                "qxl",
                "qxl2",
                "qxl3",
                "qxl4",
                "none",
                "serial0",
                "serial1",
                "serial2",
                "serial3",
                "std",
                "virtio",
                "virtio-gl",
                "vmware",
            ]),
        },
        SubKey {
            name: "memory",
            value: Val::Int(4, 512),
        },
        SubKey {
            name: "clipboard",
            value: Val::Enum(&["vnc"]),
        },
    ],
    aliases: &[],
};

/// `boot`.
pub static BOOT: Format = Format {
    what: "a boot order",
    default_key: Some("legacy"),
    keys: &[
        SubKey {
            name: "order",
            value: Val::Order,
        },
        SubKey {
            name: "legacy",
            value: Val::Token,
        },
    ],
    aliases: &[],
};

/// Container `features`.
pub static FEATURES: Format = Format {
    what: "container features",
    default_key: None,
    keys: &[
        SubKey {
            name: "nesting",
            value: Val::Bool,
        },
        SubKey {
            name: "keyctl",
            value: Val::Bool,
        },
        SubKey {
            name: "fuse",
            value: Val::Bool,
        },
        SubKey {
            name: "mknod",
            value: Val::Bool,
        },
        SubKey {
            name: "mount",
            value: Val::Token,
        },
        SubKey {
            name: "force_rw_sys",
            value: Val::Bool,
        },
    ],
    aliases: &[],
};

/// `startup` (order and delays).
pub static STARTUP: Format = Format {
    what: "a start-up order",
    default_key: Some("order"),
    keys: &[
        SubKey {
            name: "order",
            value: Val::Int(0, 10_000),
        },
        SubKey {
            name: "up",
            value: Val::Int(0, 86_400),
        },
        SubKey {
            name: "down",
            value: Val::Int(0, 86_400),
        },
    ],
    aliases: &[],
};
