//! VNC tickets in Proxmox's shape: `PVEVNC:<Unix time, 8 upper-case hex digits>::<signature>`,
//! the signature covering `authuser:/vms/ID:port`, valid from 20 s before to 40 s after its time
//! (`PVE::AccessControl::verify_vnc_ticket`, `PVE::Ticket::verify_rsa_ticket`). Proxmox signs with
//! the cluster's RSA-2048 key (256 bytes, 344 base64 characters); the simulator signs with
//! HMAC-SHA256 under a per-start random key, stretched to the same 256 bytes so tickets have the
//! real length and alphabet (`+`, `/`, `=` included: clients must URL-encode them).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "PVEVNC:";

fn signature(key: &[u8], plain: &str, authuser: &str, path: &str, port: u16) -> String {
    let full = format!("{plain}:{authuser}:{path}:{port}");
    let mut bytes = Vec::with_capacity(256);
    for block in 0u8..8 {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return String::new();
        };
        mac.update(&[block]);
        mac.update(full.as_bytes());
        bytes.extend_from_slice(&mac.finalize().into_bytes());
    }
    STANDARD.encode(bytes)
}

/// A ticket for `authuser` on `path` and `port`, made at `now` (Unix seconds).
pub(crate) fn assemble(key: &[u8], authuser: &str, path: &str, port: u16, now: i64) -> String {
    let plain = format!("{PREFIX}{:08X}", now as u32);
    let sig = signature(key, &plain, authuser, path, port);
    format!("{plain}::{sig}")
}

/// Whether `ticket` is valid for `authuser`, `path` and `port` at `now`. The `PASSWORD:` prefix
/// QEMU's vncproxy puts in front (8 characters and a colon) is accepted and ignored.
pub(crate) fn verify(
    key: &[u8],
    ticket: &str,
    authuser: &str,
    path: &str,
    port: u16,
    now: i64,
) -> bool {
    let ticket = if ticket.starts_with(PREFIX) {
        ticket
    } else {
        match (ticket.as_bytes().get(8), ticket.get(9..)) {
            (Some(b':'), Some(rest)) => rest,
            _ => return false,
        }
    };
    let Some((plain, sig)) = ticket.rsplit_once("::") else {
        return false;
    };
    let Some(stamp) = plain.strip_prefix(PREFIX) else {
        return false;
    };
    let hex = stamp.len() == 8
        && stamp
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    let Some(time) = hex.then(|| u32::from_str_radix(stamp, 16).ok()).flatten() else {
        return false;
    };
    if sig != signature(key, plain, authuser, path, port) {
        return false;
    }
    let age = now - i64::from(time);
    -20 < age && age < 40
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_760_000_000;

    #[test]
    fn shape_and_round_trip() {
        let t = assemble(KEY, "root@pam!uma", "/vms/100", 5900, NOW);
        assert!(t.starts_with(&format!("PVEVNC:{:08X}::", NOW)), "{t}");
        assert_eq!(t.len(), 7 + 8 + 2 + 344);
        assert!(verify(KEY, &t, "root@pam!uma", "/vms/100", 5900, NOW));
        let with_password = format!("a:b!c~d+:{t}");
        assert!(verify(
            KEY,
            &with_password,
            "root@pam!uma",
            "/vms/100",
            5900,
            NOW
        ));
    }

    #[test]
    fn bound_to_user_path_port_and_key() {
        let t = assemble(KEY, "root@pam!uma", "/vms/100", 5900, NOW);
        assert!(!verify(KEY, &t, "alice@pve!uma", "/vms/100", 5900, NOW));
        assert!(!verify(KEY, &t, "root@pam!uma", "/vms/101", 5900, NOW));
        assert!(!verify(KEY, &t, "root@pam!uma", "/vms/100", 5901, NOW));
        assert!(!verify(
            b"another key",
            &t,
            "root@pam!uma",
            "/vms/100",
            5900,
            NOW
        ));
        let tampered = t.replacen(&format!("{:08X}", NOW), &format!("{:08X}", NOW + 1), 1);
        assert!(!verify(
            KEY,
            &tampered,
            "root@pam!uma",
            "/vms/100",
            5900,
            NOW
        ));
        assert!(!verify(KEY, "", "root@pam!uma", "/vms/100", 5900, NOW));
        assert!(!verify(
            KEY,
            "PVEVNC:zz",
            "root@pam!uma",
            "/vms/100",
            5900,
            NOW
        ));
    }

    #[test]
    fn valid_from_minus_20_to_plus_40_seconds() {
        let t = assemble(KEY, "u@pve", "/vms/100", 5900, NOW);
        let ok = |now: i64| verify(KEY, &t, "u@pve", "/vms/100", 5900, now);
        assert!(ok(NOW + 39));
        assert!(!ok(NOW + 40), "expired");
        assert!(ok(NOW - 19));
        assert!(!ok(NOW - 20), "from the future");
    }
}
