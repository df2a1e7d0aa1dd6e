//! Passkeys (WebAuthn, by `webauthn-rs`): setting one up, using one as a second factor, and
//! signing in with one alone ("sign in with a passkey": the authenticator names the person; its
//! user verification — a PIN, a fingerprint — makes it two factors in one).
//!
//! Every ceremony's state stays on the server (`webauthn_ceremonies`), bound to the person it is
//! for and to the origin it was started at, and is used once. The relying party is the origin
//! the browser reaches Uma at (`APP_ORIGIN`, else the request's host): its host name is the
//! passkeys' scope, so an IP address can't have passkeys (browsers refuse them).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::factors::secret_hash;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::passkeys::{CeremonyRow, PasskeyRow};
use crate::store::{now_ms, Store, StoreError};

/// How long a ceremony may take (the browser's prompt, the person's PIN or finger).
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;
/// How many passkeys one person may have.
pub const MAX_PER_PERSON: usize = 20;
/// The longest name of a passkey.
pub const MAX_NAME: usize = 64;
/// The largest record of a passkey kept (its public key and flags: well under a kilobyte; an
/// authenticator that sends more is refused).
const MAX_RECORD: usize = 16 * 1024;
/// The longest credential id accepted (base64url characters).
const MAX_CREDENTIAL_ID: usize = 512;

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Setting up a passkey.
    Register,
    /// Using one of a known person's passkeys (second factor, confirming an action).
    Authenticate,
    /// Signing in with a passkey that names its person.
    Discover,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Register => "register",
            Kind::Authenticate => "authenticate",
            Kind::Discover => "discover",
        }
    }
}

/// A ceremony started: the id the browser sends back and the options for
/// `navigator.credentials.create|get` (`{publicKey: …}`, binary values in base64url).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    /// The ceremony's id.
    pub ceremony_id: String,
    /// The options.
    pub options: serde_json::Value,
}

/// How using a passkey ended.
#[derive(Debug)]
pub enum Used {
    /// Accepted: the passkey (its use recorded).
    Accepted(PasskeyRow),
    /// Refused (a failed attempt): why, and whose passkey it was when known.
    Refused {
        /// What to tell the person.
        why: &'static str,
        /// The owner of the passkey presented, when it is known.
        user_id: Option<String>,
    },
}

/// The origin passkeys are for: `APP_ORIGIN` when set; without it, only a `localhost` address
/// (trying Uma out). A name taken from a request's `Host` could be any name, and behind a proxy
/// its scheme is a guess: a wrong one would refuse every passkey. Empty: no passkeys here.
pub fn origin_for(app_origin: Option<&Url>, request_origin: &str) -> String {
    if let Some(app) = app_origin {
        return app.origin().ascii_serialization();
    }
    let local = Url::parse(request_origin).ok().is_some_and(|u| {
        u.host_str()
            .is_some_and(|h| h == "localhost" || h.ends_with(".localhost"))
    });
    if local {
        request_origin.to_owned()
    } else {
        String::new()
    }
}

/// The relying party for `origin` (`scheme://host[:port]`); refused for an IP address.
pub fn relying_party(origin: &str) -> AppResult<Webauthn> {
    let unavailable = || {
        AppError::with_message(
            ErrorCode::Conflict,
            "Passkeys need the address people reach Uma at, by its name: ask an administrator to set APP_ORIGIN (like https://uma.example.com). Browsers never allow passkeys at an IP address.",
        )
    };
    let url = Url::parse(origin).map_err(|_| unavailable())?;
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(unavailable());
    };
    let host = host.to_owned();
    WebauthnBuilder::new(&host, &url)
        .and_then(|b| b.rp_name("Uma").build())
        .map_err(|_| unavailable())
}

/// Whether passkeys work at `origin`.
pub fn available_at(origin: &str) -> bool {
    relying_party(origin).is_ok()
}

/// The state kept for a ceremony.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Kept {
    Register {
        handle: Uuid,
        state: PasskeyRegistration,
    },
    Authenticate {
        state: PasskeyAuthentication,
    },
    Discover {
        state: DiscoverableAuthentication,
    },
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("passkey: {e}"))
}

async fn keep(
    store: &Store,
    kind: Kind,
    user_id: Option<&str>,
    origin: &str,
    kept: &Kept,
    options: serde_json::Value,
) -> AppResult<Started> {
    let id = random_id();
    let state = serde_json::to_string(kept).map_err(internal)?;
    store
        .create_ceremony(
            &secret_hash(&id),
            kind.as_str(),
            user_id,
            origin,
            &state,
            now_ms() + CEREMONY_TTL_MS,
        )
        .await?;
    Ok(Started {
        ceremony_id: id,
        options,
    })
}

fn random_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Takes the ceremony `id` for `kind`, `user_id` and `origin`; anything else is "expired" (the
/// browser gets nothing that tells another person's ceremony from a missing one).
async fn take(
    store: &Store,
    id: &str,
    kind: Kind,
    user_id: Option<&str>,
    origin: &str,
) -> AppResult<Kept> {
    let expired = || {
        AppError::with_message(
            ErrorCode::Conflict,
            "This passkey request has expired or was used already. Try again.",
        )
    };
    if id.is_empty() || id.len() > 128 {
        return Err(AppError::field(
            "ceremonyId",
            "send the ceremonyId you were given",
        ));
    }
    let row: CeremonyRow = store
        .take_ceremony(&secret_hash(id), now_ms())
        .await?
        .ok_or_else(expired)?;
    if row.kind != kind.as_str() || row.user_id.as_deref() != user_id || row.origin != origin {
        return Err(expired());
    }
    serde_json::from_str(&row.state).map_err(internal)
}

/// The passkey record kept in a row.
fn passkey_of(row: &PasskeyRow) -> AppResult<Passkey> {
    serde_json::from_str(&row.credential).map_err(internal)
}

/// Starts setting up a passkey for `user_id`.
pub async fn start_registration(
    store: &Store,
    origin: &str,
    user_id: &str,
    username: &str,
    display_name: &str,
) -> AppResult<Started> {
    let rp = relying_party(origin)?;
    let mine = store.passkeys_of(user_id).await?;
    if mine.len() >= MAX_PER_PERSON {
        return Err(AppError::with_message(
            ErrorCode::Conflict,
            format!("You have {MAX_PER_PERSON} passkeys, the most one person may have. Remove one first."),
        ));
    }
    // One handle per person: the first passkey's, else a new one.
    let handle = match mine.first() {
        Some(p) => Uuid::parse_str(&p.user_handle).map_err(internal)?,
        None => Uuid::new_v4(),
    };
    let exclude = mine
        .iter()
        .map(|p| passkey_of(p).map(|k| k.cred_id().clone()))
        .collect::<AppResult<Vec<_>>>()?;
    let (ccr, state): (CreationChallengeResponse, PasskeyRegistration) = rp
        .start_passkey_registration(handle, username, display_name, Some(exclude))
        .map_err(internal)?;
    let mut options = serde_json::to_value(&ccr).map_err(internal)?;
    // Ask for a discoverable credential where the authenticator can make one, so that the
    // passkey can also sign in on its own (it still works as a second factor where it can't).
    if let Some(sel) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(|v| v.as_object_mut())
    {
        sel.insert("residentKey".into(), "preferred".into());
        sel.insert("requireResidentKey".into(), false.into());
    }
    keep(
        store,
        Kind::Register,
        Some(user_id),
        origin,
        &Kept::Register { handle, state },
        options,
    )
    .await
}

/// A passkey's name as given (trimmed), or a default one.
pub fn clean_name(name: Option<&str>) -> AppResult<String> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.chars().count() > MAX_NAME {
        return Err(AppError::field(
            "name",
            format!("at most {MAX_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::field("name", "no control characters"));
    }
    Ok(if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name.to_owned()
    })
}

/// Finishes setting up a passkey of `user_id` with the browser's answer; returns it.
pub async fn finish_registration(
    store: &Store,
    origin: &str,
    user_id: &str,
    ceremony_id: &str,
    credential: &serde_json::Value,
    name: String,
) -> AppResult<PasskeyRow> {
    let rp = relying_party(origin)?;
    let reg: RegisterPublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(|_| {
            AppError::field(
                "credential",
                "send the browser's answer (PublicKeyCredential) as it came",
            )
        })?;
    let Kept::Register { handle, state } =
        take(store, ceremony_id, Kind::Register, Some(user_id), origin).await?
    else {
        return Err(internal("a registration ceremony kept other state"));
    };
    let passkey = rp.finish_passkey_registration(&reg, &state).map_err(|e| {
        tracing::info!(error = %e, "a passkey was not set up");
        AppError::field(
            "credential",
            "this passkey could not be verified; try again, or use another one",
        )
    })?;
    let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id().as_ref() as &[u8]);
    if credential_id.len() > MAX_CREDENTIAL_ID {
        return Err(AppError::field(
            "credential",
            "this authenticator's credential id is too long for Uma",
        ));
    }
    let credential = serde_json::to_string(&passkey).map_err(internal)?;
    if credential.len() > MAX_RECORD {
        return Err(AppError::field(
            "credential",
            "this authenticator's answer is too large for Uma",
        ));
    }
    // Counted again: ceremonies started side by side each passed the check at their start.
    if store.passkeys_of(user_id).await?.len() >= MAX_PER_PERSON {
        return Err(AppError::with_message(
            ErrorCode::Conflict,
            format!("You have {MAX_PER_PERSON} passkeys, the most one person may have. Remove one first."),
        ));
    }
    let row = PasskeyRow {
        id: format!("pk_{}", &random_id()[..20]),
        user_id: user_id.to_owned(),
        user_handle: handle.to_string(),
        credential_id,
        name,
        credential,
        sign_count: 0,
        created_at: now_ms(),
        last_used_at: None,
    };
    match store.add_passkey(&row).await {
        Ok(()) => Ok(row),
        Err(StoreError::Conflict(_)) => Err(AppError::with_message(
            ErrorCode::Conflict,
            "This passkey is set up in Uma already.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Starts using one of `user_id`'s passkeys; `NotFound` when they have none.
pub async fn start_authentication(
    store: &Store,
    origin: &str,
    user_id: &str,
) -> AppResult<Started> {
    let rp = relying_party(origin)?;
    let keys = store
        .passkeys_of(user_id)
        .await?
        .iter()
        .map(passkey_of)
        .collect::<AppResult<Vec<_>>>()?;
    if keys.is_empty() {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            "You have no passkey set up.",
        ));
    }
    let (rcr, state): (RequestChallengeResponse, PasskeyAuthentication) =
        rp.start_passkey_authentication(&keys).map_err(internal)?;
    let options = serde_json::to_value(&rcr).map_err(internal)?;
    keep(
        store,
        Kind::Authenticate,
        Some(user_id),
        origin,
        &Kept::Authenticate { state },
        options,
    )
    .await
}

/// Starts a passkey sign-in (the authenticator offers its passkeys for this site).
pub async fn start_discovery(store: &Store, origin: &str) -> AppResult<Started> {
    let rp = relying_party(origin)?;
    let (mut rcr, state) = rp.start_discoverable_authentication().map_err(internal)?;
    // A button's prompt, not the autofill of a name field.
    rcr.mediation = None;
    let options = serde_json::to_value(&rcr).map_err(internal)?;
    keep(
        store,
        Kind::Discover,
        None,
        origin,
        &Kept::Discover { state },
        options,
    )
    .await
}

fn assertion(credential: &serde_json::Value) -> AppResult<PublicKeyCredential> {
    serde_json::from_value(credential.clone()).map_err(|_| {
        AppError::field(
            "credential",
            "send the browser's answer (PublicKeyCredential) as it came",
        )
    })
}

const NOT_ACCEPTED: &str = "That passkey wasn't accepted. Try again, or use another way.";

/// Records an accepted use of `row` (its counter moves forward once).
async fn record_use(
    store: &Store,
    mut row: PasskeyRow,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> AppResult<Used> {
    // A counter that did not move forward from the last use recorded (not only from the one
    // seen when the ceremony started) may be a cloned authenticator.
    let counter = i64::from(result.counter());
    if (counter > 0 || row.sign_count > 0) && counter <= row.sign_count {
        tracing::warn!(passkey = %row.id, user = %row.user_id, counter, stored = row.sign_count, "a passkey's counter did not move forward: a cloned authenticator?");
        return Ok(Used::Refused {
            why: NOT_ACCEPTED,
            user_id: Some(row.user_id),
        });
    }
    let mut key = passkey_of(&row)?;
    key.update_credential(result);
    let json = serde_json::to_string(&key).map_err(internal)?;
    if !store
        .record_passkey_use(&row.id, &json, row.sign_count, counter)
        .await?
    {
        return Ok(Used::Refused {
            why: NOT_ACCEPTED,
            user_id: Some(row.user_id),
        });
    }
    row.credential = json;
    row.sign_count = counter;
    Ok(Used::Accepted(row))
}

/// Uses one of `user_id`'s passkeys (the browser's answer to [`start_authentication`]).
pub async fn finish_authentication(
    store: &Store,
    origin: &str,
    user_id: &str,
    ceremony_id: &str,
    credential: &serde_json::Value,
) -> AppResult<Used> {
    let rp = relying_party(origin)?;
    let cred = assertion(credential)?;
    let Kept::Authenticate { state } = take(
        store,
        ceremony_id,
        Kind::Authenticate,
        Some(user_id),
        origin,
    )
    .await?
    else {
        return Err(internal("an authentication ceremony kept other state"));
    };
    let refused = |why| Used::Refused {
        why,
        user_id: Some(user_id.to_owned()),
    };
    let id = URL_SAFE_NO_PAD.encode(cred.get_credential_id());
    let Some(row) = store.passkey_by_credential(&id).await? else {
        return Ok(refused(NOT_ACCEPTED));
    };
    if row.user_id != user_id {
        return Ok(refused(NOT_ACCEPTED));
    }
    match rp.finish_passkey_authentication(&cred, &state) {
        Ok(result) if result.user_verified() => record_use(store, row, &result).await,
        Ok(_) => Ok(refused(NOT_ACCEPTED)),
        Err(e) => {
            tracing::info!(error = %e, "a passkey was refused");
            Ok(refused(NOT_ACCEPTED))
        }
    }
}

/// Finishes a passkey sign-in: the passkey must be one Uma knows, presented for the person it
/// was set up for.
pub async fn finish_discovery(
    store: &Store,
    origin: &str,
    ceremony_id: &str,
    credential: &serde_json::Value,
) -> AppResult<Used> {
    let rp = relying_party(origin)?;
    let cred = assertion(credential)?;
    let Kept::Discover { state } = take(store, ceremony_id, Kind::Discover, None, origin).await?
    else {
        return Err(internal("a sign-in ceremony kept other state"));
    };
    let Ok((handle, cred_id)) = rp.identify_discoverable_authentication(&cred) else {
        return Ok(Used::Refused {
            why: NOT_ACCEPTED,
            user_id: None,
        });
    };
    let id = URL_SAFE_NO_PAD.encode(cred_id);
    let Some(row) = store.passkey_by_credential(&id).await? else {
        return Ok(Used::Refused {
            why: "Uma doesn't know this passkey (it may have been removed). Sign in with your password.",
            user_id: None,
        });
    };
    let refused = Used::Refused {
        why: NOT_ACCEPTED,
        user_id: Some(row.user_id.clone()),
    };
    if row.user_handle != handle.to_string() {
        return Ok(refused);
    }
    let key = passkey_of(&row)?;
    match rp.finish_discoverable_authentication_v2(&cred, state, &key) {
        Ok(result) if result.user_verified() => record_use(store, row, &result).await,
        Ok(_) => Ok(refused),
        Err(e) => {
            tracing::info!(error = %e, "a passkey sign-in was refused");
            Ok(refused)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_not_addresses_have_passkeys() {
        assert!(available_at("https://uma.example.com"));
        assert!(available_at("http://localhost:3004"));
        assert!(!available_at("http://127.0.0.1:3004"));
        assert!(!available_at("http://[::1]:3004"));
        assert!(!available_at("not a url"));
    }

    #[test]
    fn passkeys_follow_app_origin_or_localhost_only() {
        let app = Url::parse("https://uma.example.com/").ok();
        assert_eq!(
            origin_for(app.as_ref(), "http://10.0.0.5:3004"),
            "https://uma.example.com"
        );
        assert_eq!(
            origin_for(None, "http://localhost:3004"),
            "http://localhost:3004"
        );
        assert_eq!(
            origin_for(None, "http://uma.localhost:3004"),
            "http://uma.localhost:3004"
        );
        assert_eq!(origin_for(None, "http://uma.example.com"), "");
        assert_eq!(origin_for(None, "http://127.0.0.1:3004"), "");
        assert!(relying_party("").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(clean_name(None).ok().as_deref(), Some("Passkey"));
        assert_eq!(
            clean_name(Some("  YubiKey ")).ok().as_deref(),
            Some("YubiKey")
        );
        assert!(clean_name(Some(&"x".repeat(65))).is_err());
        assert!(clean_name(Some("a\u{7}b")).is_err());
    }
}
