//! Operation ids: one per HTTP request or Socket.IO event, in logs, audit rows, error bodies and
//! error pages, so a user's screenshot leads to the log line.

use rand::Rng;

tokio::task_local! {
    static OP_ID: String;
}

/// A fresh operation id: 12 characters of base32 (time prefix + randomness).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The operation id of the running request or event, or `-` outside one.
pub fn current() -> String {
    OP_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

/// Runs `fut` with `id` as the current operation id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    OP_ID.scope(id, fut).await
}
