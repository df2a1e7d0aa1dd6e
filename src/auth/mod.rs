//! Authentication: local accounts (argon2id) and LDAP / Active Directory, server-side sessions
//! carried by a signed cookie, CSRF tokens and the failed-login limiter.

pub mod caller;
pub mod client;
pub mod csrf;
pub mod ends;
pub mod ldap;
pub mod password;
pub mod records;
pub mod session;

pub use self::caller::Caller;

use self::ldap::LdapAuth;
use crate::config::Config;
use crate::store::Store;

/// A verified user, before a session is made for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Group CNs.
    pub groups: Vec<String>,
    /// Group DNs, normalized ([`ldap::normalize_dn`]); empty for local accounts.
    pub group_dns: Vec<String>,
    /// Admin through a local flag or an admin group.
    pub is_admin: bool,
    /// `local` or `ldap`.
    pub source: &'static str,
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password (the two are not told apart).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// A local account that an admin disabled.
    #[error("this account is disabled")]
    Disabled,
    /// Not in an allowed group.
    #[error("not allowed to use this application")]
    NotAllowed,
    /// The directory's name for this user is a local account's (ignoring case).
    #[error("this name belongs to a local account")]
    LocalName,
    /// The directory (or the database) cannot be reached.
    #[error("the sign-in directory is unavailable: {0}")]
    Unavailable(String),
}

/// Verifies `username` / `password`.
///
/// Local accounts come first and are matched ignoring case, so `Admin` is the local `admin` and
/// never reaches the directory. Any other name goes to LDAP when configured; a directory sign-in
/// whose canonical name (the directory's `sAMAccountName` / `uid`, which may differ from what was
/// typed, e.g. a mail address) is a local account's name, ignoring case, is refused: a name
/// belongs to one account only. Empty passwords are refused before anything else.
///
/// Admin and allowed groups: entries written as DNs match the user's group DNs exactly (compared
/// normalized, ignoring case); bare names match group CNs ignoring case, whatever OU the group is
/// in.
pub async fn authenticate(
    store: &Store,
    ldap: Option<&LdapAuth>,
    config: &Config,
    username: &str,
    password: &str,
) -> Result<Identity, AuthError> {
    if username.is_empty() || password.is_empty() {
        return Err(AuthError::InvalidCredentials);
    }
    let local = store
        .local_account_any_case(username)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    let mut identity = match local {
        Some((user, account)) => {
            // Verify even for disabled accounts so timing does not tell them apart.
            let ok = password::verify(password, &account.password_hash);
            if !ok {
                return Err(AuthError::InvalidCredentials);
            }
            if account.disabled {
                return Err(AuthError::Disabled);
            }
            Identity {
                username: user.username,
                display_name: user.display_name,
                groups: Vec::new(),
                group_dns: Vec::new(),
                is_admin: account.is_admin,
                source: "local",
            }
        }
        None => match ldap {
            Some(ldap) => {
                let identity = ldap.authenticate(username, password).await?;
                let taken = store
                    .local_account_any_case(&identity.username)
                    .await
                    .map_err(|e| AuthError::Unavailable(e.to_string()))?;
                if taken.is_some() {
                    return Err(AuthError::LocalName);
                }
                identity
            }
            None => {
                // Same cost as a real check, so the absence of an account is not observable.
                let _ = password::verify(password, dummy_hash());
                return Err(AuthError::InvalidCredentials);
            }
        },
    };
    let access = access_settings(store, config).await;
    if !identity.is_admin {
        identity.is_admin = access
            .admin_groups
            .iter()
            .any(|entry| in_group(&identity, entry));
    }
    if !access.allowed_groups.is_empty()
        && !identity.is_admin
        && !access
            .allowed_groups
            .iter()
            .any(|entry| in_group(&identity, entry))
    {
        return Err(AuthError::NotAllowed);
    }
    Ok(identity)
}

/// Whether `identity` is in the group an access entry names: by DN when the entry is one, else
/// by CN.
fn in_group(identity: &Identity, entry: &str) -> bool {
    let entry = entry.trim();
    if ldap::is_dn(entry) {
        let wanted = ldap::normalize_dn(entry);
        identity.group_dns.contains(&wanted)
    } else {
        identity
            .groups
            .iter()
            .any(|g| g.eq_ignore_ascii_case(entry))
    }
}

/// An argon2id hash of a random string, verified against when no account exists.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| password::hash(&password::generate(24)).unwrap_or_default())
}

/// Admin and allowed groups: `ADMIN_GROUPS` plus the `access` setting (`adminGroups`,
/// `allowedGroups`).
#[derive(Debug, Default)]
pub struct AccessSettings {
    /// Groups whose members are admins.
    pub admin_groups: Vec<String>,
    /// When non-empty, only members of these groups (and admins) may sign in.
    pub allowed_groups: Vec<String>,
}

/// Reads [`AccessSettings`].
pub async fn access_settings(store: &Store, config: &Config) -> AccessSettings {
    let mut out = AccessSettings {
        admin_groups: config.session.admin_groups.clone(),
        allowed_groups: Vec::new(),
    };
    if let Ok(Some(v)) = store.config_value("access").await {
        let list = |key: &str| -> Vec<String> {
            v.get(key)
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        out.admin_groups.extend(list("adminGroups"));
        out.allowed_groups = list("allowedGroups");
    }
    out
}
