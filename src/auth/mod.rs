//! Authentication: local accounts (argon2id) and LDAP / Active Directory, server-side sessions
//! carried by a signed cookie, CSRF tokens and the failed-login limiter.

pub mod csrf;
pub mod ends;
pub mod ldap;
pub mod limiter;
pub mod password;
pub mod records;
pub mod session;

use crate::state::AppState;

/// A verified user, before a session is made for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Group CNs.
    pub groups: Vec<String>,
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
    /// The directory (or the database) cannot be reached.
    #[error("the sign-in directory is unavailable: {0}")]
    Unavailable(String),
}

/// Verifies `username` / `password`: a local account when one exists for that name (local accounts
/// are marked as such, so a directory user is never looked up locally by accident), else LDAP when
/// configured. Empty passwords are refused before anything else.
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<Identity, AuthError> {
    if username.is_empty() || password.is_empty() {
        return Err(AuthError::InvalidCredentials);
    }
    let local = state
        .store
        .local_account(username)
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
                is_admin: account.is_admin,
                source: "local",
            }
        }
        None => match &state.ldap {
            Some(ldap) => ldap.authenticate(username, password).await?,
            None => {
                // Same cost as a real check, so the absence of an account is not observable.
                let _ = password::verify(password, dummy_hash());
                return Err(AuthError::InvalidCredentials);
            }
        },
    };
    let access = access_settings(state).await;
    if !identity.is_admin {
        identity.is_admin = identity.groups.iter().any(|g| {
            access
                .admin_groups
                .iter()
                .any(|a| a.eq_ignore_ascii_case(g))
        });
    }
    if !access.allowed_groups.is_empty()
        && !identity.is_admin
        && !identity.groups.iter().any(|g| {
            access
                .allowed_groups
                .iter()
                .any(|a| a.eq_ignore_ascii_case(g))
        })
    {
        return Err(AuthError::NotAllowed);
    }
    Ok(identity)
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
pub async fn access_settings(state: &AppState) -> AccessSettings {
    let mut out = AccessSettings {
        admin_groups: state.config.admin_groups.clone(),
        allowed_groups: Vec::new(),
    };
    if let Ok(Some(v)) = state.store.config_value("access").await {
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
