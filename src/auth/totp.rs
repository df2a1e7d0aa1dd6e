//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30-second steps,
//! six digits, the form every authenticator app reads from an `otpauth://` address. A code is
//! accepted one step either side of now; the caller records the step it matched so that no code
//! works twice.

use hmac::{Hmac, Mac};
use rand::RngCore;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now (clock drift of the phone).
pub const SKEW: i64 = 1;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;

/// A new random secret, base32 without padding (what authenticator apps take).
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

/// The step that `unix_secs` falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The code of `step` for a base32 secret; `None` when the secret is not base32.
pub fn code_at(secret: &str, step: i64) -> Option<u32> {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.trim_end_matches('=').as_bytes())
        .ok()?;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    Some(word % 10u32.pow(DIGITS))
}

/// The step within [`SKEW`] of `now_secs` whose code is `code` and that comes after
/// `last_step` (the last one accepted), if any. `code` must be exactly six digits (spaces are
/// ignored, as apps show `123 456`).
pub fn matching_step(secret: &str, code: &str, now_secs: i64, last_step: i64) -> Option<i64> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = digits.parse().ok()?;
    let now = step_at(now_secs);
    let mut found = None;
    // Every candidate is computed, so the time taken does not say which step matched.
    for step in (now - SKEW)..=(now + SKEW) {
        let same = code_at(secret, step).is_some_and(|c| {
            crate::auth::session::constant_time_eq(&c.to_be_bytes(), &wanted.to_be_bytes())
        });
        if same && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The `otpauth://` address an authenticator app reads (as a QR code or pasted): the account is
/// shown as `issuer:username`.
pub fn otpauth_uri(issuer: &str, username: &str, secret: &str) -> String {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(&format!("{issuer}:{username}")),
        enc(issuer),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret, "12345678901234567890".
    fn rfc_secret() -> String {
        data_encoding::BASE32_NOPAD.encode(b"12345678901234567890")
    }

    #[test]
    fn rfc6238_vectors_in_six_digits() {
        // The RFC lists eight digits; six are the last six of them.
        for (t, eight) in [
            (59, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(
                code_at(&rfc_secret(), step_at(t)),
                Some(eight % 1_000_000),
                "t={t}"
            );
        }
    }

    #[test]
    fn a_step_either_side_is_accepted_and_never_twice() {
        let s = rfc_secret();
        let now = 1_234_567_890;
        let code = |step| format!("{:06}", code_at(&s, step).unwrap());
        let here = step_at(now);
        assert_eq!(matching_step(&s, &code(here), now, 0), Some(here));
        assert_eq!(matching_step(&s, &code(here - 1), now, 0), Some(here - 1));
        assert_eq!(matching_step(&s, &code(here + 1), now, 0), Some(here + 1));
        assert_eq!(matching_step(&s, &code(here - 2), now, 0), None);
        assert_eq!(matching_step(&s, &code(here + 2), now, 0), None);
        // Used already: the step is not after the last accepted one.
        assert_eq!(matching_step(&s, &code(here), now, here), None);
        assert_eq!(matching_step(&s, &code(here - 1), now, here - 1), None);
    }

    #[test]
    fn malformed_codes_are_refused() {
        let s = rfc_secret();
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert_eq!(matching_step(&s, bad, 59, 0), None, "{bad}");
        }
        let code = format!("{:06}", code_at(&s, step_at(59)).unwrap());
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matching_step(&s, &spaced, 59, 0).is_some());
        assert_eq!(code_at("not base32!", 1), None);
    }

    #[test]
    fn the_address_names_issuer_and_account() {
        let uri = otpauth_uri("Uma", "alice", "ABC");
        assert!(uri.starts_with("otpauth://totp/Uma%3Aalice?"), "{uri}");
        assert!(
            uri.contains("secret=ABC") && uri.contains("issuer=Uma"),
            "{uri}"
        );
        assert!(
            uri.contains("period=30") && uri.contains("digits=6"),
            "{uri}"
        );
    }
}
