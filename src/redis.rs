//! Redis as Uma uses it: an optional client, used only while it is connected, so that callers fall
//! back (database, in-process limits) at once instead of waiting for a command timeout.

/// The Redis client when it is connected right now. Callers fall back at once while Redis is
/// away; the client reconnects by itself and is used again as soon as it is back.
pub fn ready(redis: Option<&fred::clients::Client>) -> Option<&fred::clients::Client> {
    use fred::interfaces::ClientLike;
    redis.filter(|r| r.is_connected())
}
