//! Proxmox property strings (`[file=]<volume>,size=32G,cache=writeback`), parsed with the grammar
//! of the API schema (`pve-common` `parse_property_string`): comma-separated `key=value` parts,
//! at most one part without a key (the format's default key), every key known to the format,
//! none twice. Uma parses every value it forwards, so each volume, storage, bridge and option
//! inside is seen and checked; a value that doesn't parse is refused, never passed through.

mod disks;
mod network;
mod options;

pub use disks::{DRIVE, EFIDISK, MOUNT, ROOTFS, TPMSTATE};
pub use network::{CT_NET, IPCONFIG, NET, NIC_MODELS};
pub use options::{AGENT, BOOT, CPU, FEATURES, MEMORY, STARTUP, VGA};

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
