//! Formats of network devices: QEMU NICs, container NICs and cloud-init IP configuration.

use super::{Format, SubKey, Val};

/// QEMU NIC models (each also a key: `virtio=<mac>`).
pub const NIC_MODELS: [&str; 14] = [
    "virtio",
    "e1000",
    "e1000e",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
    "rtl8139",
    "vmxnet3",
];

/// A QEMU network device (`net[n]`).
pub static NET: Format = Format {
    what: "a network device",
    default_key: Some("model"),
    keys: &[
        SubKey {
            name: "model",
            value: Val::Enum(&NIC_MODELS),
        },
        SubKey {
            name: "virtio",
            value: Val::Mac,
        },
        SubKey {
            name: "e1000",
            value: Val::Mac,
        },
        SubKey {
            name: "e1000e",
            value: Val::Mac,
        },
        SubKey {
            name: "e1000-82540em",
            value: Val::Mac,
        },
        SubKey {
            name: "e1000-82544gc",
            value: Val::Mac,
        },
        SubKey {
            name: "e1000-82545em",
            value: Val::Mac,
        },
        SubKey {
            name: "i82551",
            value: Val::Mac,
        },
        SubKey {
            name: "i82557b",
            value: Val::Mac,
        },
        SubKey {
            name: "i82559er",
            value: Val::Mac,
        },
        SubKey {
            name: "ne2k_isa",
            value: Val::Mac,
        },
        SubKey {
            name: "ne2k_pci",
            value: Val::Mac,
        },
        SubKey {
            name: "pcnet",
            value: Val::Mac,
        },
        SubKey {
            name: "rtl8139",
            value: Val::Mac,
        },
        SubKey {
            name: "vmxnet3",
            value: Val::Mac,
        },
        SubKey {
            name: "bridge",
            value: Val::Bridge,
        },
        SubKey {
            name: "firewall",
            value: Val::Bool,
        },
        SubKey {
            name: "link_down",
            value: Val::Bool,
        },
        SubKey {
            name: "macaddr",
            value: Val::Mac,
        },
        SubKey {
            name: "mtu",
            value: Val::Int(1, 65520),
        },
        SubKey {
            name: "queues",
            value: Val::Int(0, 64),
        },
        SubKey {
            name: "rate",
            value: Val::Number,
        },
        SubKey {
            name: "tag",
            value: Val::Int(1, 4094),
        },
        SubKey {
            name: "trunks",
            value: Val::Trunks,
        },
    ],
    aliases: &[],
};

/// A container network device (`net[n]`).
pub static CT_NET: Format = Format {
    what: "a container network device",
    default_key: None,
    keys: &[
        SubKey {
            name: "name",
            value: Val::Token,
        },
        SubKey {
            name: "bridge",
            value: Val::Bridge,
        },
        SubKey {
            name: "firewall",
            value: Val::Bool,
        },
        SubKey {
            name: "gw",
            value: Val::Gateway,
        },
        SubKey {
            name: "gw6",
            value: Val::Gateway,
        },
        SubKey {
            name: "hwaddr",
            value: Val::Mac,
        },
        SubKey {
            name: "ip",
            value: Val::Ip,
        },
        SubKey {
            name: "ip6",
            value: Val::Ip,
        },
        SubKey {
            name: "link_down",
            value: Val::Bool,
        },
        SubKey {
            name: "mtu",
            value: Val::Int(64, 65535),
        },
        SubKey {
            name: "rate",
            value: Val::Number,
        },
        SubKey {
            name: "tag",
            value: Val::Int(1, 4094),
        },
        SubKey {
            name: "trunks",
            value: Val::Trunks,
        },
        SubKey {
            name: "type",
            value: Val::Enum(&["veth"]),
        },
    ],
    aliases: &[],
};

/// `ipconfig[n]` (cloud-init).
pub static IPCONFIG: Format = Format {
    what: "an IP configuration",
    default_key: None,
    keys: &[
        SubKey {
            name: "ip",
            value: Val::Ip,
        },
        SubKey {
            name: "gw",
            value: Val::Gateway,
        },
        SubKey {
            name: "ip6",
            value: Val::Ip,
        },
        SubKey {
            name: "gw6",
            value: Val::Gateway,
        },
    ],
    aliases: &[],
};
