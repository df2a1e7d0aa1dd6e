//! The tests' own TOTP (RFC 6238: HMAC-SHA1, 30-second steps, six digits), written from the RFC
//! and checked against its test vectors, so Uma's codes are judged by code that isn't Uma's.

use hmac::{Hmac, Mac};

/// The six-digit code of `secret` (base32) at Unix time `at` shifted by `steps` steps.
pub fn code(secret: &str, at: i64, steps: i64) -> String {
    let key = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .expect("base32 secret");
    let counter = (at / 30 + steps) as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0xf) as usize;
    let bin = ((u32::from(h[o]) & 0x7f) << 24)
        | (u32::from(h[o + 1]) << 16)
        | (u32::from(h[o + 2]) << 8)
        | u32::from(h[o + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn rfc6238_sha1_vectors() {
    let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
    assert_eq!(code(&secret, 59, 0), "287082");
    assert_eq!(code(&secret, 1111111109, 0), "081804");
    assert_eq!(code(&secret, 1234567890, 0), "005924");
    assert_eq!(code(&secret, 2000000000, 0), "279037");
}
