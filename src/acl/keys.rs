//! Guest configuration keys: the privilege each one needs (as Proxmox's
//! `check_vm_modify_config_perm` decides it), the grammar of its value, and whether it reaches
//! the host — host devices and paths, hook scripts, raw QEMU arguments, start-up order,
//! privileged-container features — which only administrators may set. Keys not listed here can't
//! be changed through Uma at all.

use super::ConfigPriv;
use crate::pve::path::GuestKind;
use crate::pve::props::{self, Format};

/// How a key's value is read.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// A QEMU drive (disk or CD): volumes and storages inside are resolved.
    Drive(&'static Format),
    /// `unused[n]`: can only be deleted (which destroys the volume).
    Unused,
    /// A network device: its bridge and VLAN settings are resolved.
    Net(&'static Format),
    /// A container root disk or mount point: its volume is resolved.
    Mount(&'static Format),
    /// Another property string.
    Props(&'static Format),
    /// A whole number.
    Int(i64, i64),
    /// A decimal number in a range.
    Number(f64, f64),
    /// `0` or `1`.
    Bool,
    /// One of a list.
    Enum(&'static [&'static str]),
    /// A DNS name (`name`, `hostname`).
    Name,
    /// Tags separated by `;`.
    Tags,
    /// Free text (may hold line breaks).
    Text,
    /// A short token without spaces (SSH keys and passwords are [`Value::Text`]).
    Token,
    /// A QEMU machine type.
    Machine,
    /// A serial port: `socket`, or a host device (host).
    Serial,
    /// A USB device: `spice`, or a host device or mapping (host).
    Usb,
    /// A value only administrators set, checked to be one line.
    Raw,
}

/// One key's rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The privilege it needs (drives holding a CD need [`ConfigPriv::Cdrom`] instead).
    pub privilege: ConfigPriv,
    /// Its value.
    pub value: Value,
    /// It reaches the host: administrators only.
    pub host: bool,
}

const fn r(privilege: ConfigPriv, value: Value) -> Rule {
    Rule {
        privilege,
        value,
        host: false,
    }
}

const fn host(privilege: ConfigPriv) -> Rule {
    Rule {
        privilege,
        value: Value::Raw,
        host: true,
    }
}

fn indexed(key: &str, stem: &str, max: u32) -> bool {
    key.strip_prefix(stem).is_some_and(|n| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n == "0" || !n.starts_with('0'))
            && n.parse::<u32>().is_ok_and(|i| i <= max)
    })
}

/// OS types of QEMU guests.
pub const QEMU_OSTYPES: &[&str] = &[
    "other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24",
    "l26", "solaris",
];

/// OS types of containers.
pub const LXC_OSTYPES: &[&str] = &[
    "debian",
    "devuan",
    "ubuntu",
    "centos",
    "fedora",
    "opensuse",
    "archlinux",
    "alpine",
    "gentoo",
    "nixos",
    "unmanaged",
];

/// The rule of `key` for a guest of `kind`; `None`: the key can't be changed through Uma.
pub fn rule(kind: GuestKind, key: &str) -> Option<Rule> {
    use ConfigPriv::{Cdrom, Cloudinit, Cpu, Disk, HwType, Memory, Network, Options};
    match kind {
        GuestKind::Qemu => Some(match key {
            "name" => r(Options, Value::Name),
            "description" => r(Options, Value::Text),
            "tags" => r(Options, Value::Tags),
            "onboot" | "protection" | "localtime" => r(Options, Value::Bool),
            "ostype" => r(Options, Value::Enum(QEMU_OSTYPES)),
            "agent" => r(Options, Value::Props(&props::AGENT)),
            "bios" => r(Options, Value::Enum(&["seabios", "ovmf"])),
            "cores" => r(Cpu, Value::Int(1, 512)),
            "sockets" => r(Cpu, Value::Int(1, 16)),
            "vcpus" => r(Cpu, Value::Int(1, 8192)),
            "cpu" => r(Cpu, Value::Props(&props::CPU)),
            "cpulimit" => r(Cpu, Value::Number(0.0, 128.0)),
            "cpuunits" => r(Cpu, Value::Int(1, 262_144)),
            "numa" => r(Cpu, Value::Bool),
            "memory" => r(Memory, Value::Props(&props::MEMORY)),
            "balloon" => r(Memory, Value::Int(0, 4 * 1024 * 1024)),
            "shares" => r(Memory, Value::Int(0, 50_000)),
            "boot" => r(Disk, Value::Props(&props::BOOT)),
            "bootdisk" => r(Disk, Value::Token),
            "efidisk0" => r(Disk, Value::Drive(&props::EFIDISK)),
            "tpmstate0" => r(Disk, Value::Drive(&props::TPMSTATE)),
            "cdrom" => r(Cdrom, Value::Drive(&props::DRIVE)),
            "vga" => r(HwType, Value::Props(&props::VGA)),
            "machine" => r(HwType, Value::Machine),
            "scsihw" => r(
                HwType,
                Value::Enum(&[
                    "lsi",
                    "lsi53c810",
                    "virtio-scsi-pci",
                    "virtio-scsi-single",
                    "megasas",
                    "pvscsi",
                ]),
            ),
            "tablet" | "kvm" | "acpi" => r(HwType, Value::Bool),
            "hotplug" => r(HwType, Value::Token),
            "ciuser" | "citype" => r(Cloudinit, Value::Token),
            "cipassword" | "sshkeys" => r(Cloudinit, Value::Text),
            "ciupgrade" => r(Cloudinit, Value::Bool),
            "nameserver" | "searchdomain" => r(Cloudinit, Value::Token),
            "startup" => Rule {
                privilege: Options,
                value: Value::Props(&props::STARTUP),
                host: true,
            },
            "hookscript" | "args" | "affinity" | "cicustom" | "vmstatestorage" | "ivshmem"
            | "rng0" | "hugepages" | "keephugepages" | "smbios1" | "watchdog" | "audio0"
            | "amd-sev" | "intel-tdx" => host(HwType),
            k if indexed(k, "scsi", 30)
                || indexed(k, "virtio", 15)
                || indexed(k, "sata", 5)
                || indexed(k, "ide", 3) =>
            {
                r(Disk, Value::Drive(&props::DRIVE))
            }
            k if indexed(k, "unused", 255) => r(Disk, Value::Unused),
            k if indexed(k, "net", 31) => r(Network, Value::Net(&props::NET)),
            k if indexed(k, "ipconfig", 31) => r(Cloudinit, Value::Props(&props::IPCONFIG)),
            k if indexed(k, "serial", 3) => r(HwType, Value::Serial),
            k if indexed(k, "usb", 14) => r(HwType, Value::Usb),
            k if indexed(k, "hostpci", 15)
                || indexed(k, "parallel", 2)
                || indexed(k, "virtiofs", 9)
                || indexed(k, "numa", 7) =>
            {
                host(HwType)
            }
            _ => return None,
        }),
        GuestKind::Lxc => Some(match key {
            "hostname" => r(Options, Value::Name),
            "description" => r(Options, Value::Text),
            "tags" => r(Options, Value::Tags),
            "onboot" | "protection" | "console" => r(Options, Value::Bool),
            "ostype" => r(Options, Value::Enum(LXC_OSTYPES)),
            "arch" => r(
                Options,
                Value::Enum(&["amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"]),
            ),
            "tty" => r(Options, Value::Int(0, 6)),
            "cmode" => r(Options, Value::Enum(&["shell", "console", "tty"])),
            "timezone" => r(Options, Value::Token),
            "features" => r(Options, Value::Props(&props::FEATURES)),
            "cores" => r(Cpu, Value::Int(1, 8192)),
            "cpulimit" => r(Cpu, Value::Number(0.0, 8192.0)),
            "cpuunits" => r(Cpu, Value::Int(0, 500_000)),
            "memory" => r(Memory, Value::Int(16, 4 * 1024 * 1024)),
            "swap" => r(Memory, Value::Int(0, 4 * 1024 * 1024)),
            "rootfs" => r(Disk, Value::Mount(&props::ROOTFS)),
            "nameserver" | "searchdomain" => r(Network, Value::Token),
            "startup" => Rule {
                privilege: Options,
                value: Value::Props(&props::STARTUP),
                host: true,
            },
            "hookscript" | "unprivileged" => host(Options),
            k if indexed(k, "mp", 255) => r(Disk, Value::Mount(&props::MOUNT)),
            k if indexed(k, "unused", 255) => r(Disk, Value::Unused),
            k if indexed(k, "net", 31) => r(Network, Value::Net(&props::CT_NET)),
            k if indexed(k, "dev", 255) => host(Disk),
            _ => return None,
        }),
    }
}

/// Container features an unprivileged tenant may turn on (the others reach the host).
pub const TENANT_FEATURES: &[&str] = &["nesting", "keyctl"];

/// Whether `key` holds a disk (or CD) for `kind`.
pub fn is_disk(kind: GuestKind, key: &str) -> bool {
    matches!(
        rule(kind, key).map(|r| r.value),
        Some(Value::Drive(_) | Value::Mount(_) | Value::Unused)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_map_to_proxmox_privileges() {
        let q = |k: &str| rule(GuestKind::Qemu, k).map(|r| (r.privilege, r.host));
        assert_eq!(q("memory"), Some((ConfigPriv::Memory, false)));
        assert_eq!(q("cores"), Some((ConfigPriv::Cpu, false)));
        assert_eq!(q("scsi30"), Some((ConfigPriv::Disk, false)));
        assert_eq!(q("scsi31"), None);
        assert_eq!(q("scsi01"), None);
        assert_eq!(q("net0"), Some((ConfigPriv::Network, false)));
        assert_eq!(q("ipconfig0"), Some((ConfigPriv::Cloudinit, false)));
        assert_eq!(q("vga"), Some((ConfigPriv::HwType, false)));
        assert_eq!(q("bios"), Some((ConfigPriv::Options, false)));
        assert!(q("hookscript").unwrap().1);
        assert!(q("hostpci0").unwrap().1);
        assert!(q("args").unwrap().1);
        assert!(q("startup").unwrap().1);
        assert_eq!(q("lock"), None);
        assert_eq!(q("template"), None);
        let l = |k: &str| rule(GuestKind::Lxc, k).map(|r| (r.privilege, r.host));
        assert_eq!(l("swap"), Some((ConfigPriv::Memory, false)));
        assert_eq!(l("mp255"), Some((ConfigPriv::Disk, false)));
        assert_eq!(l("nameserver"), Some((ConfigPriv::Network, false)));
        assert!(l("dev0").unwrap().1);
        assert!(l("unprivileged").unwrap().1);
        assert_eq!(l("lxc.apparmor.profile"), None);
        assert!(is_disk(GuestKind::Lxc, "rootfs"));
        assert!(!is_disk(GuestKind::Qemu, "net0"));
    }
}
