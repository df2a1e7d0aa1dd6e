//! Formats of volumes: QEMU drives (with their I/O limits), EFI and TPM disks, container
//! root disks and mount points.

use super::{Format, SubKey, Val};

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
