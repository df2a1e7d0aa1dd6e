//! Proxmox property strings (`[file=]<volume>,size=32G,cache=writeback`), parsed with the grammar
//! of the API schema (`pve-common` `parse_property_string`): comma-separated `key=value` parts,
//! at most one part without a key (the format's default key), every key known to the format,
//! none twice. Uma parses every value it forwards, so each volume, storage, bridge and option
//! inside is seen and checked; a value that doesn't parse is refused, never passed through.

use std::fmt;

/// One sub-key of a format and the values it takes.
#[derive(Debug, Clone, Copy)]
pub struct SubKey {
    /// The key.
    pub name: &'static str,
    /// Its values.
    pub value: Val,
}

/// The values a sub-key takes (as the schema's `typetext` describes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    /// `0`/`1` (Proxmox also writes `on`/`off`, `yes`/`no`, `true`/`false`).
    Bool,
    /// A whole number in a range.
    Int(i64, i64),
    /// A decimal number ≥ 0.
    Number,
    /// One of a list.
    Enum(&'static [&'static str]),
    /// A disk size (`32G`, `512M`, plain bytes).
    Size,
    /// A MAC address.
    Mac,
    /// A short token of letters, digits and `-_.:/+@` (names, paths inside a guest, serials).
    Token,
    /// A volume or storage reference (checked by its user, never here).
    Volume,
    /// A bridge or VNet id.
    Bridge,
    /// `vlanid[;vlanid...]`.
    Trunks,
    /// An address with prefix, `dhcp`, `manual` or `auto` (container and cloud-init IPs).
    Ip,
    /// A gateway address.
    Gateway,
    /// CPU flags `+FLAG;-FLAG`.
    Flags,
    /// Boot order `dev;dev`.
    Order,
    /// Mount options `opt;opt`.
    MountOpts,
}

/// A property-string format: its keys and the one written without `key=` (if any).
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// Name for messages ("a disk", "a network device", …).
    pub what: &'static str,
    /// The key a bare part stands for.
    pub default_key: Option<&'static str>,
    /// Known keys.
    pub keys: &'static [SubKey],
    /// Keys that name the default key too (`volume` for `file`).
    pub aliases: &'static [(&'static str, &'static str)],
}

/// A parsed property string: parts in their order, each key once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Props {
    parts: Vec<(String, String)>,
}

/// Why a property string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PropError(pub String);

fn err(msg: impl Into<String>) -> PropError {
    PropError(msg.into())
}

/// Normalized boolean, or `None`.
fn bool_of(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

fn token_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 256
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+@".contains(c))
}

/// Parses `raw` as a size: a decimal number with an optional `K`, `M`, `G` or `T` suffix.
/// Returns bytes.
pub fn parse_size(raw: &str) -> Option<u64> {
    let s = raw.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        'T' | 't' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || !(0.0..=1e15).contains(&v) {
        return None;
    }
    Some((v * mult as f64).round() as u64)
}

/// Writes a size as Proxmox writes `size=`: in the largest unit that divides it exactly.
pub fn fmt_size(bytes: u64) -> String {
    for (unit, m) in [
        ("T", 1u64 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ] {
        if bytes >= m && bytes % m == 0 {
            return format!("{}{unit}", bytes / m);
        }
    }
    bytes.to_string()
}

fn ip_ok(v: &str) -> bool {
    if ["dhcp", "manual", "auto"].contains(&v) {
        return true;
    }
    let (addr, prefix) = match v.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max))
}

impl Val {
    /// Checks one value; returns its normalized text.
    fn check(self, key: &str, v: &str) -> Result<String, PropError> {
        let bad = |what: &str| err(format!("'{key}' must be {what}, not '{v}'"));
        Ok(match self {
            Val::Bool => match bool_of(v) {
                Some(b) => if b { "1" } else { "0" }.to_owned(),
                None => return Err(bad("0 or 1")),
            },
            Val::Int(min, max) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => n.to_string(),
                _ => return Err(bad(&format!("a whole number from {min} to {max}"))),
            },
            Val::Number => match v.parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 && v.len() <= 20 => v.to_owned(),
                _ => return Err(bad("a number")),
            },
            Val::Enum(list) => {
                if list.contains(&v) {
                    v.to_owned()
                } else {
                    return Err(bad(&format!("one of {}", list.join(", "))));
                }
            }
            Val::Size => match parse_size(v) {
                Some(_) => v.to_owned(),
                None => return Err(bad("a size like 32G")),
            },
            Val::Mac => {
                let parts: Vec<&str> = v.split(':').collect();
                if parts.len() == 6
                    && parts
                        .iter()
                        .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
                {
                    v.to_owned()
                } else {
                    return Err(bad("a MAC address like BC:24:11:00:00:01"));
                }
            }
            Val::Token => {
                if token_ok(v) {
                    v.to_owned()
                } else {
                    return Err(bad("letters, digits and - _ . : / + @"));
                }
            }
            Val::Volume => {
                if token_ok(v) {
                    v.to_owned()
                } else {
                    return Err(bad("a volume like local-lvm:vm-100-disk-0"));
                }
            }
            Val::Bridge => {
                let ok = v.len() <= 15
                    && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if ok {
                    v.to_owned()
                } else {
                    return Err(bad("a bridge or VNet name like vmbr0"));
                }
            }
            Val::Trunks => {
                if v.split(';').all(|t| {
                    let (a, b) = t.split_once('-').unwrap_or((t, t));
                    a.parse::<u16>().is_ok_and(|n| (1..=4094).contains(&n))
                        && b.parse::<u16>().is_ok_and(|n| (1..=4094).contains(&n))
                }) {
                    v.to_owned()
                } else {
                    return Err(bad("VLAN ids separated by ';'"));
                }
            }
            Val::Ip => {
                if ip_ok(v) {
                    v.to_owned()
                } else {
                    return Err(bad("an address with prefix (10.0.0.2/24), dhcp or manual"));
                }
            }
            Val::Gateway => {
                if v.parse::<std::net::IpAddr>().is_ok() {
                    v.to_owned()
                } else {
                    return Err(bad("an IP address"));
                }
            }
            Val::Flags => {
                let ok = v.split(';').all(|f| {
                    let name = f.strip_prefix(['+', '-']).unwrap_or(f);
                    !name.is_empty()
                        && name.len() <= 32
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                });
                if ok {
                    v.to_owned()
                } else {
                    return Err(bad("CPU flags like +aes;-pcid"));
                }
            }
            Val::Order => {
                let ok = v.split(';').all(|d| {
                    !d.is_empty() && d.len() <= 16 && d.chars().all(|c| c.is_ascii_alphanumeric())
                });
                if ok {
                    v.to_owned()
                } else {
                    return Err(bad("devices like scsi0;ide2;net0"));
                }
            }
            Val::MountOpts => {
                let ok = v.split(';').all(|o| {
                    [
                        "noatime", "nodev", "nosuid", "noexec", "lazytime", "discard",
                    ]
                    .contains(&o)
                });
                if ok {
                    v.to_owned()
                } else {
                    return Err(bad("noatime, nodev, nosuid, noexec, lazytime or discard"));
                }
            }
        })
    }
}

impl Props {
    /// Parses `raw` with `format`: every key known, none twice, every value of its type.
    pub fn parse(format: &Format, raw: &str) -> Result<Self, PropError> {
        if raw.is_empty() {
            return Err(err(format!("{} needs a value", format.what)));
        }
        if raw.len() > 4096 || raw.chars().any(|c| c.is_control() || c == '"' || c == ' ') {
            return Err(err(format!(
                "{} must be one line without spaces or quotes",
                format.what
            )));
        }
        let mut out = Props::default();
        for part in raw.split(',') {
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => {
                    let k = format
                        .aliases
                        .iter()
                        .find(|(a, _)| *a == k)
                        .map_or(k, |(_, to)| *to);
                    (k, v)
                }
                None => match format.default_key {
                    Some(d) => (d, part),
                    None => {
                        return Err(err(format!(
                            "'{part}' in {} needs a key (key=value)",
                            format.what
                        )))
                    }
                },
            };
            let Some(spec) = format.keys.iter().find(|s| s.name == key) else {
                return Err(err(format!(
                    "{} has no option '{key}'{}",
                    format.what,
                    if key.is_empty() { " (empty part)" } else { "" }
                )));
            };
            if out.get(key).is_some() {
                return Err(err(format!("'{key}' is given twice in {}", format.what)));
            }
            let value = spec.value.check(key, value)?;
            out.parts.push((key.to_owned(), value));
        }
        Ok(out)
    }

    /// A key's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean key (absent: `None`).
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(bool_of)
    }

    /// Sets (or adds) a key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.parts.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.parts.push((key.to_owned(), value)),
        }
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.parts.iter().position(|(k, _)| k == key)?;
        Some(self.parts.remove(pos).1)
    }

    /// The keys present.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|(k, _)| k.as_str())
    }

    /// Writes the string back, `key=value` for every part (`default_key` first, bare).
    pub fn render(&self, format: &Format) -> String {
        let mut out: Vec<String> = Vec::with_capacity(self.parts.len());
        if let Some(d) = format.default_key {
            if let Some(v) = self.get(d) {
                out.push(v.to_owned());
            }
        }
        for (k, v) in &self.parts {
            if Some(k.as_str()) != format.default_key {
                out.push(format!("{k}={v}"));
            }
        }
        out.join(",")
    }
}

impl fmt::Display for Props {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

// ---------------------------------------------------------------------------------------------
// The formats Uma forwards (sub-keys as in the API schema's `format` of each property).

const IO_KEYS: [&str; 18] = [
    "bps",
    "bps_rd",
    "bps_wr",
    "iops",
    "iops_rd",
    "iops_wr",
    "iops_max",
    "iops_rd_max",
    "iops_wr_max",
    "mbps",
    "mbps_rd",
    "mbps_wr",
    "mbps_max",
    "mbps_rd_max",
    "mbps_wr_max",
    "bps_max_length",
    "bps_rd_max_length",
    "bps_wr_max_length",
];

macro_rules! io_keys {
    () => {
        [
            SubKey {
                name: IO_KEYS[0],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[1],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[2],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[3],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[4],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[5],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[6],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[7],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[8],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[9],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[10],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[11],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[12],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[13],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[14],
                value: Val::Number,
            },
            SubKey {
                name: IO_KEYS[15],
                value: Val::Int(1, 86400),
            },
            SubKey {
                name: IO_KEYS[16],
                value: Val::Int(1, 86400),
            },
            SubKey {
                name: IO_KEYS[17],
                value: Val::Int(1, 86400),
            },
        ]
    };
}

const DRIVE_KEYS: [SubKey; 38] = {
    let io = io_keys!();
    [
        SubKey {
            name: "file",
            value: Val::Volume,
        },
        SubKey {
            name: "import-from",
            value: Val::Volume,
        },
        SubKey {
            name: "media",
            value: Val::Enum(&["cdrom", "disk"]),
        },
        SubKey {
            name: "size",
            value: Val::Size,
        },
        SubKey {
            name: "format",
            value: Val::Enum(&["raw", "qcow2", "vmdk", "cloop", "cow", "qed"]),
        },
        SubKey {
            name: "cache",
            value: Val::Enum(&["none", "writethrough", "writeback", "unsafe", "directsync"]),
        },
        SubKey {
            name: "discard",
            value: Val::Enum(&["ignore", "on"]),
        },
        SubKey {
            name: "ssd",
            value: Val::Bool,
        },
        SubKey {
            name: "iothread",
            value: Val::Bool,
        },
        SubKey {
            name: "backup",
            value: Val::Bool,
        },
        SubKey {
            name: "replicate",
            value: Val::Bool,
        },
        SubKey {
            name: "aio",
            value: Val::Enum(&["native", "threads", "io_uring"]),
        },
        SubKey {
            name: "detect_zeroes",
            value: Val::Bool,
        },
        SubKey {
            name: "ro",
            value: Val::Bool,
        },
        SubKey {
            name: "serial",
            value: Val::Token,
        },
        SubKey {
            name: "snapshot",
            value: Val::Bool,
        },
        SubKey {
            name: "rerror",
            value: Val::Enum(&["ignore", "report", "stop"]),
        },
        SubKey {
            name: "werror",
            value: Val::Enum(&["enospc", "ignore", "report", "stop"]),
        },
        SubKey {
            name: "queues",
            value: Val::Int(2, 16),
        },
        SubKey {
            name: "wwn",
            value: Val::Token,
        },
        io[0],
        io[1],
        io[2],
        io[3],
        io[4],
        io[5],
        io[6],
        io[7],
        io[8],
        io[9],
        io[10],
        io[11],
        io[12],
        io[13],
        io[14],
        io[15],
        io[16],
        io[17],
    ]
};

/// A QEMU drive (`ide[n]`, `sata[n]`, `scsi[n]`, `virtio[n]`).
pub static DRIVE: Format = Format {
    what: "a disk or CD drive",
    default_key: Some("file"),
    keys: &DRIVE_KEYS,
    aliases: &[("volume", "file")],
};

/// `efidisk0`.
pub static EFIDISK: Format = Format {
    what: "an EFI disk",
    default_key: Some("file"),
    keys: &[
        SubKey {
            name: "file",
            value: Val::Volume,
        },
        SubKey {
            name: "import-from",
            value: Val::Volume,
        },
        SubKey {
            name: "size",
            value: Val::Size,
        },
        SubKey {
            name: "format",
            value: Val::Enum(&["raw", "qcow2", "vmdk"]),
        },
        SubKey {
            name: "efitype",
            value: Val::Enum(&["2m", "4m"]),
        },
        SubKey {
            name: "pre-enrolled-keys",
            value: Val::Bool,
        },
        SubKey {
            name: "ms-cert",
            value: Val::Enum(&["2011", "2023", "2023k"]),
        },
    ],
    aliases: &[("volume", "file")],
};

/// `tpmstate0`.
pub static TPMSTATE: Format = Format {
    what: "a TPM state disk",
    default_key: Some("file"),
    keys: &[
        SubKey {
            name: "file",
            value: Val::Volume,
        },
        SubKey {
            name: "import-from",
            value: Val::Volume,
        },
        SubKey {
            name: "size",
            value: Val::Size,
        },
        SubKey {
            name: "format",
            value: Val::Enum(&["raw", "qcow2", "vmdk"]),
        },
        SubKey {
            name: "version",
            value: Val::Enum(&["v1.2", "v2.0"]),
        },
    ],
    aliases: &[("volume", "file")],
};

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

/// A container root disk or mount point (`rootfs`, `mp[n]`).
pub static MOUNT: Format = Format {
    what: "a container volume",
    default_key: Some("volume"),
    keys: &[
        SubKey {
            name: "volume",
            value: Val::Volume,
        },
        SubKey {
            name: "mp",
            value: Val::Token,
        },
        SubKey {
            name: "size",
            value: Val::Size,
        },
        SubKey {
            name: "acl",
            value: Val::Bool,
        },
        SubKey {
            name: "backup",
            value: Val::Bool,
        },
        SubKey {
            name: "mountoptions",
            value: Val::MountOpts,
        },
        SubKey {
            name: "quota",
            value: Val::Bool,
        },
        SubKey {
            name: "replicate",
            value: Val::Bool,
        },
        SubKey {
            name: "ro",
            value: Val::Bool,
        },
        SubKey {
            name: "shared",
            value: Val::Bool,
        },
    ],
    aliases: &[],
};

/// A container root disk (`rootfs`).
pub static ROOTFS: Format = Format {
    what: "a container root disk",
    default_key: Some("volume"),
    keys: &[
        SubKey {
            name: "volume",
            value: Val::Volume,
        },
        SubKey {
            name: "size",
            value: Val::Size,
        },
        SubKey {
            name: "acl",
            value: Val::Bool,
        },
        SubKey {
            name: "mountoptions",
            value: Val::MountOpts,
        },
        SubKey {
            name: "quota",
            value: Val::Bool,
        },
        SubKey {
            name: "replicate",
            value: Val::Bool,
        },
        SubKey {
            name: "ro",
            value: Val::Bool,
        },
        SubKey {
            name: "shared",
            value: Val::Bool,
        },
    ],
    aliases: &[],
};

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

/// Every format above with the config property it belongs to, for the schema conformance test.
pub static ALL: [(&str, &str, &Format); 15] = [
    ("qemu", "scsi[n]", &DRIVE),
    ("qemu", "efidisk0", &EFIDISK),
    ("qemu", "tpmstate0", &TPMSTATE),
    ("qemu", "net[n]", &NET),
    ("lxc", "net[n]", &CT_NET),
    ("lxc", "mp[n]", &MOUNT),
    ("lxc", "rootfs", &ROOTFS),
    ("qemu", "cpu", &CPU),
    ("qemu", "memory", &MEMORY),
    ("qemu", "agent", &AGENT),
    ("qemu", "vga", &VGA),
    ("qemu", "boot", &BOOT),
    ("qemu", "ipconfig[n]", &IPCONFIG),
    ("lxc", "features", &FEATURES),
    ("qemu", "startup", &STARTUP),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn drives_parse_with_their_default_key() {
        let p = Props::parse(&DRIVE, "local-lvm:vm-100-disk-0,size=32G,cache=writeback").unwrap();
        assert_eq!(p.get("file"), Some("local-lvm:vm-100-disk-0"));
        assert_eq!(p.get("size"), Some("32G"));
        let p = Props::parse(&DRIVE, "volume=local-lvm:8,ssd=on").unwrap();
        assert_eq!(p.get("file"), Some("local-lvm:8"));
        assert_eq!(p.get("ssd"), Some("1"));
        assert_eq!(p.render(&DRIVE), "local-lvm:8,ssd=1");
        let p = Props::parse(&DRIVE, "local-lvm:0,import-from=local-lvm:vm-110-disk-0").unwrap();
        assert_eq!(p.get("import-from"), Some("local-lvm:vm-110-disk-0"));
    }

    #[test]
    fn unknown_duplicate_and_malformed_parts_are_refused() {
        for bad in [
            "local-lvm:8,foo=1",
            "local-lvm:8,local-lvm:9",
            "local-lvm:8,size=1G,size=2G",
            "local-lvm:8,,cache=none",
            "local-lvm:8,cache=fast",
            "local-lvm:8,ssd=maybe",
            "local-lvm:8 ,cache=none",
            "local-lvm:8,serial=\"x\"",
            "local-lvm:8\n",
            "",
        ] {
            assert!(Props::parse(&DRIVE, bad).is_err(), "{bad}");
        }
        assert!(Props::parse(&CT_NET, "eth0").is_err());
    }

    #[test]
    fn nics_take_model_mac_bridge_and_tags() {
        let p = Props::parse(
            &NET,
            "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20,firewall=1",
        )
        .unwrap();
        assert_eq!(p.get("virtio"), Some("BC:24:11:00:00:01"));
        assert_eq!(p.get("bridge"), Some("vmbr0"));
        assert_eq!(p.get("tag"), Some("20"));
        assert!(Props::parse(&NET, "virtio,bridge=vmbr0,tag=5000").is_err());
        assert!(Props::parse(&NET, "virtio,bridge=vm br0").is_err());
        assert!(Props::parse(&NET, "virtio,trunks=10;20-30").is_ok());
        let ct =
            Props::parse(&CT_NET, "name=eth0,bridge=vmbr0,ip=10.0.0.2/24,gw=10.0.0.1").unwrap();
        assert_eq!(ct.get("ip"), Some("10.0.0.2/24"));
        assert!(Props::parse(&CT_NET, "name=eth0,ip=10.0.0.2/33").is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("32G"), Some(32 << 30));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("-1G"), None);
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("1e3G"), None);
        assert_eq!(fmt_size(32 << 30), "32G");
        assert_eq!(fmt_size(1536 << 20), "1536M");
        assert_eq!(fmt_size(1000), "1000");
    }

    /// Every sub-key Uma accepts exists in the official schema's format of that property (the
    /// schema subset lives outside the repository, beside it).
    #[test]
    fn formats_match_the_official_schema() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/pve-api/pve-api-schema-subset.json"
        );
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("the Proxmox API schema subset is needed at {path} ({e})"));
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let endpoints = schema["endpoints"].as_array().unwrap();
        let props_of = |kind: &str| {
            let path = format!("/nodes/{{node}}/{kind}/{{vmid}}/config");
            endpoints
                .iter()
                .find(|e| e["path"] == path.as_str())
                .and_then(|e| e["methods"]["PUT"]["parameters"]["properties"].as_object())
                .cloned()
                .unwrap()
        };
        let qemu = props_of("qemu");
        let lxc = props_of("lxc");
        let mut missing = Vec::new();
        for (kind, prop, format) in ALL {
            let props = if kind == "qemu" { &qemu } else { &lxc };
            let Some(p) = props.get(prop) else {
                missing.push(format!("{kind} {prop}: no such property"));
                continue;
            };
            let Some(keys) = p["format"].as_object() else {
                // Formats named by id (`pve-vm-cpu-conf`): the typetext lists the keys.
                let text = p["typetext"].as_str().unwrap_or_default();
                for k in format.keys {
                    if !text.contains(k.name) {
                        missing.push(format!("{kind} {prop}: {}", k.name));
                    }
                }
                continue;
            };
            for k in format.keys {
                if !keys.contains_key(k.name) {
                    missing.push(format!("{kind} {prop}: {}", k.name));
                }
            }
            if let Some(d) = format.default_key {
                let declared = keys
                    .iter()
                    .any(|(name, v)| name == d && v["default_key"].as_i64() == Some(1));
                if !declared {
                    missing.push(format!("{kind} {prop}: default key {d}"));
                }
            }
        }
        assert!(missing.is_empty(), "not in the schema: {missing:#?}");
    }
}
