//! Password hashing (argon2id, PHC strings) and generation of strong random passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

/// Hashes a password with argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a PHC string; a malformed hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Fewest characters of a password a person chooses.
pub const MIN_CHARS: usize = 8;
/// Most bytes of a password (sign-in refuses longer ones too).
pub const MAX_BYTES: usize = 1024;

/// Why a password a person chose for `username` is refused, if it is.
pub fn refusal(pw: &str, username: &str) -> Option<&'static str> {
    if pw.chars().count() < MIN_CHARS {
        Some("use at least 8 characters")
    } else if pw.len() > MAX_BYTES {
        Some("use at most 1024 bytes")
    } else if pw.trim().eq_ignore_ascii_case(username.trim()) {
        Some("don't use your username as your password")
    } else {
        None
    }
}

/// A random password of `len` characters, without look-alike characters.
pub fn generate(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn chosen_passwords_are_long_enough_and_not_the_name() {
        assert!(refusal("short", "alice").is_some());
        assert!(refusal("Alice   ", "alice").is_some());
        assert!(refusal(" ALICE12 ", "alice12").is_some());
        assert!(refusal(&"x".repeat(1025), "alice").is_some());
        assert_eq!(refusal("correct horse", "alice"), None);
        // Characters, not bytes: eight accented letters are enough.
        assert_eq!(refusal("éééééééé", "alice"), None);
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate(20);
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate(20));
    }
}
