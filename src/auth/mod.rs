//! Authentication: local accounts (argon2id), LDAP / Active Directory and OpenID Connect
//! providers, server-side sessions carried by a signed cookie, CSRF tokens and the failed-login
//! limiter.

pub mod caller;
pub mod client;
pub mod csrf;
pub mod ends;
pub mod factors;
pub mod ldap;
pub mod oidc;
pub mod passkeys;
pub mod password;
pub mod records;
pub mod session;
pub mod tokens;
pub mod totp;

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
    /// `local`, `ldap` or `oidc`.
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
    /// The directory's name for this user belongs to an OpenID Connect provider's person.
    #[error("this name belongs to an account that signs in through a provider")]
    ProviderName,
    /// The directory (or the database) cannot be reached.
    #[error("the sign-in directory is unavailable: {0}")]
    Unavailable(String),
}

/// Verifies `username` / `password`.
///
/// Local accounts come first and are matched ignoring case, so `Admin` is the local `admin` and
/// never reaches the directory. Any other name goes to LDAP when configured; a directory sign-in
/// whose canonical name (the directory's `sAMAccountName` / `uid`, which may differ from what was
/// typed, e.g. a mail address) is a local account's name, or the name of a user bound to an
/// OpenID Connect provider's person, ignoring case, is refused: a name belongs to one account
/// only. Empty passwords are refused before anything else.
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
    let identity = match local {
        Some((user, account)) => {
            // Verify even for disabled accounts so timing does not tell them apart.
            let ok = password::verify(password, &account.password_hash);
            if !ok {
                return Err(AuthError::InvalidCredentials);
            }
            local_identity(user, &account)?
        }
        None => match ldap {
            Some(ldap) => {
                directory_identity(store, ldap.authenticate(username, password).await?).await?
            }
            None => {
                // Same cost as a real check, so the absence of an account is not observable.
                let _ = password::verify(password, dummy_hash());
                return Err(AuthError::InvalidCredentials);
            }
        },
    };
    admitted(store, config, identity).await
}

/// Who `username` is when they proved it without a password (a passkey): their local account,
/// else the directory's entry, under the same rules as a password sign-in (disabled accounts,
/// names taken, who may sign in, who is an administrator).
pub async fn identify(
    store: &Store,
    ldap: Option<&LdapAuth>,
    config: &Config,
    username: &str,
) -> Result<Identity, AuthError> {
    let local = store
        .local_account_any_case(username)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    let identity = match (local, ldap) {
        (Some((user, account)), _) => local_identity(user, &account)?,
        (None, Some(ldap)) => match ldap.lookup_for_sign_in(username).await? {
            Some(found) => directory_identity(store, found).await?,
            None => return Err(AuthError::InvalidCredentials),
        },
        (None, None) => return Err(AuthError::InvalidCredentials),
    };
    admitted(store, config, identity).await
}

/// A local account's identity (refused when it is disabled).
fn local_identity(
    user: crate::store::auth::User,
    account: &crate::store::auth::LocalAccount,
) -> Result<Identity, AuthError> {
    if account.disabled {
        return Err(AuthError::Disabled);
    }
    Ok(Identity {
        username: user.username,
        display_name: user.display_name,
        groups: Vec::new(),
        group_dns: Vec::new(),
        is_admin: account.is_admin,
        source: "local",
    })
}

/// A directory person, unless their name belongs to a local account or a provider's person.
async fn directory_identity(store: &Store, identity: Identity) -> Result<Identity, AuthError> {
    let taken = store
        .local_account_any_case(&identity.username)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
    if taken.is_some() {
        return Err(AuthError::LocalName);
    }
    if oidc::link::bound_to_a_provider(store, &identity.username)
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?
    {
        return Err(AuthError::ProviderName);
    }
    Ok(identity)
}

/// Applies the access settings: refused when they don't let `identity` in; else with its
/// administrator flag decided.
async fn admitted(
    store: &Store,
    config: &Config,
    mut identity: Identity,
) -> Result<Identity, AuthError> {
    let access = access_settings(store, config).await;
    let verdict = decide(&identity, &access);
    if !verdict.allowed {
        return Err(AuthError::NotAllowed);
    }
    identity.is_admin = verdict.is_admin;
    Ok(identity)
}

/// Whether someone is an administrator and may sign in, and which rule says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// An administrator of Uma.
    pub is_admin: bool,
    /// The rule that makes them one.
    pub admin_because: Option<String>,
    /// May sign in.
    pub allowed: bool,
    /// The rule that admits or refuses them.
    pub because: String,
}

/// Applies the access settings to an identity (a local account's admin flag already set).
pub fn decide(identity: &Identity, access: &AccessSettings) -> Verdict {
    let admin_because = if identity.is_admin {
        Some("a local administrator account".to_owned())
    } else {
        access
            .admin_groups
            .iter()
            .find(|entry| in_group(identity, entry))
            .map(|entry| {
                let from = if access.environment_admin_groups.contains(entry) {
                    "ADMIN_GROUPS"
                } else {
                    "the access settings"
                };
                format!(
                    "member of the administrator group '{}' ({from})",
                    entry.trim()
                )
            })
    };
    let is_admin = admin_because.is_some();
    let (allowed, because) = if is_admin {
        (true, "administrators may always sign in".to_owned())
    } else if access.allowed_groups.is_empty() {
        (
            true,
            "no allowed groups are set, so everyone with an account may sign in".to_owned(),
        )
    } else if let Some(entry) = access
        .allowed_groups
        .iter()
        .find(|entry| in_group(identity, entry))
    {
        (
            true,
            format!("member of the allowed group '{}'", entry.trim()),
        )
    } else {
        (
            false,
            format!(
                "not a member of any allowed group ({})",
                access
                    .allowed_groups
                    .iter()
                    .map(|g| g.trim())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    Verdict {
        is_admin,
        admin_because,
        allowed,
        because,
    }
}

/// What signing in would decide for `username`, without their password, for an administrator's
/// check: `{username, found, source, displayName, groups, disabled, isAdmin, adminBecause,
/// allowed, because}`.
pub async fn check_access(
    store: &Store,
    ldap: Option<&LdapAuth>,
    config: &Config,
    username: &str,
) -> Result<serde_json::Value, AuthError> {
    let unavailable = |e: crate::store::StoreError| AuthError::Unavailable(e.to_string());
    let refused = |source: Option<&str>, because: &str| {
        serde_json::json!({
            "username": username, "found": source.is_some(), "source": source,
            "displayName": null, "groups": [], "disabled": false, "isAdmin": false,
            "adminBecause": null, "allowed": false, "because": because,
        })
    };
    let identity = match store
        .local_account_any_case(username)
        .await
        .map_err(unavailable)?
    {
        Some((user, account)) => {
            if account.disabled {
                return Ok(serde_json::json!({
                    "username": user.username, "found": true, "source": "local",
                    "displayName": user.display_name, "groups": [], "disabled": true,
                    "isAdmin": account.is_admin, "adminBecause": null, "allowed": false,
                    "because": "the local account is disabled",
                }));
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
        None => {
            let Some(ldap) = ldap else {
                return Ok(refused(
                    None,
                    "no local account has that name, and no directory is configured",
                ));
            };
            let Some(identity) = ldap.lookup(username).await? else {
                return Ok(refused(
                    None,
                    "no local account has that name, and the directory finds nobody (or more than one person) by it",
                ));
            };
            if store
                .local_account_any_case(&identity.username)
                .await
                .map_err(unavailable)?
                .is_some()
            {
                return Ok(refused(
                    Some("ldap"),
                    "the directory's name for them belongs to a local account, which signs in instead",
                ));
            }
            identity
        }
    };
    let verdict = decide(&identity, &access_settings(store, config).await);
    Ok(serde_json::json!({
        "username": identity.username,
        "found": true,
        "source": identity.source,
        "displayName": identity.display_name,
        "groups": identity.groups,
        "disabled": false,
        "isAdmin": verdict.is_admin,
        "adminBecause": verdict.admin_because,
        "allowed": verdict.allowed,
        "because": verdict.because,
    }))
}

/// Whether `identity` is in the group an access entry names: by DN when the entry is one, else
/// by CN.
pub(crate) fn in_group(identity: &Identity, entry: &str) -> bool {
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
    /// Those of them from `ADMIN_GROUPS`.
    pub environment_admin_groups: Vec<String>,
    /// When non-empty, only members of these groups (and admins) may sign in.
    pub allowed_groups: Vec<String>,
}

/// Reads [`AccessSettings`].
pub async fn access_settings(store: &Store, config: &Config) -> AccessSettings {
    let mut out = AccessSettings {
        admin_groups: config.session.admin_groups.clone(),
        environment_admin_groups: config.session.admin_groups.clone(),
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
