//! Typed shapes of the Proxmox answers Uma reads (fields as the schema names them; optional where
//! Proxmox omits them).

use serde::{Deserialize, Serialize};

use super::path::GuestKind;

/// Proxmox's booleans arrive as 0/1 (sometimes as JSON booleans): a `deserialize_with` helper.
pub fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    bool_from_int(d)
}

fn bool_from_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        I(i64),
        B(bool),
    }
    Ok(match Option::<B>::deserialize(d)? {
        Some(B::I(i)) => i != 0,
        Some(B::B(b)) => b,
        None => false,
    })
}

/// The `type` of a cluster resource. A kind Uma does not know (Proxmox adds some over time) keeps
/// its name; only administrators see such resources.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// A QEMU VM.
    Qemu,
    /// An LXC container.
    Lxc,
    /// A cluster node.
    Node,
    /// A storage on a node.
    Storage,
    /// A resource pool.
    Pool,
    /// An SDN zone on a node.
    Sdn,
    /// Any other kind, by its Proxmox name.
    Other(String),
}

impl ResourceKind {
    /// Every kind Uma knows.
    pub const KNOWN: [Self; 6] = [
        Self::Qemu,
        Self::Lxc,
        Self::Node,
        Self::Storage,
        Self::Pool,
        Self::Sdn,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Qemu => "qemu",
            Self::Lxc => "lxc",
            Self::Node => "node",
            Self::Storage => "storage",
            Self::Pool => "pool",
            Self::Sdn => "sdn",
            Self::Other(name) => name,
        }
    }

    /// The kind named `raw`.
    pub fn parse(raw: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|k| k.as_str() == raw)
            .unwrap_or_else(|| Self::Other(raw.to_owned()))
    }

    /// The guest kind, for VMs and containers.
    pub const fn guest(&self) -> Option<GuestKind> {
        match self {
            Self::Qemu => Some(GuestKind::Qemu),
            Self::Lxc => Some(GuestKind::Lxc),
            _ => None,
        }
    }
}

impl Serialize for ResourceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResourceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::parse(&raw))
    }
}

/// One item of `GET /cluster/resources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `qemu/100`, `lxc/103`, `node/pve1`, `storage/pve1/local`, `pool/DEV_x_1`, `sdn/…`.
    pub id: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: ResourceKind,
    /// Guest id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
    /// Node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Guest name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `running`, `stopped`, `online`, `available`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Pool of a guest or storage; the id of a pool item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Storage id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Template flag.
    #[serde(
        default,
        deserialize_with = "bool_from_int",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub template: bool,
    /// Tags, `;`-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    /// CPU usage (0..maxcpu).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxcpu: Option<f64>,
    /// Memory used (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<u64>,
    /// Memory size (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxmem: Option<u64>,
    /// Disk used (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u64>,
    /// Disk size (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxdisk: Option<u64>,
    /// Uptime (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<u64>,
    /// Content types a storage holds (`images,rootdir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Storage plugin (`lvmthin`, `dir`, `nfs`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugintype: Option<String>,
    /// A storage shared by all nodes.
    #[serde(
        default,
        deserialize_with = "bool_from_int",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub shared: bool,
}

impl Resource {
    /// QEMU VM or LXC container.
    pub fn is_guest(&self) -> bool {
        self.kind.guest().is_some()
    }
}

/// One item of `GET /access/acl`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AclItem {
    /// ACL path.
    pub path: String,
    /// `user`, `group` or `token`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Holder id.
    pub ugid: String,
    /// Role.
    pub roleid: String,
    /// Propagate flag.
    #[serde(default, deserialize_with = "bool_from_int")]
    pub propagate: bool,
}

/// One item of `GET /access/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoleItem {
    /// Role id.
    pub roleid: String,
    /// Comma-separated privileges.
    #[serde(default)]
    pub privs: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn resource_kinds_keep_names_uma_does_not_know() {
        for (raw, kind) in [
            ("qemu", ResourceKind::Qemu),
            ("storage", ResourceKind::Storage),
            ("network", ResourceKind::Other("network".into())),
        ] {
            let r: Resource = serde_json::from_value(
                serde_json::json!({ "id": format!("{raw}/x"), "type": raw }),
            )
            .unwrap();
            assert_eq!(r.kind, kind);
            assert_eq!(serde_json::to_value(&r).unwrap()["type"], raw);
        }
        assert_eq!(ResourceKind::parse("lxc").guest(), Some(GuestKind::Lxc));
        assert_eq!(ResourceKind::parse("openvz").guest(), None);
    }
}
