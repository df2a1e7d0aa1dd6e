//! Local accounts and the people Uma knows, for administrators: who signed in and how, creating
//! a local account, giving it a new password, disabling and enabling it, ending someone's
//! sessions. A password Uma makes is shown once, to the administrator who asked for it.

use serde_json::{json, Value};

use crate::audit::{Audit, AuditAction, Status};
use crate::auth::password;
use crate::auth::records::SessionRecords;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::Store;

/// Length of a password Uma makes.
const GENERATED: usize = 20;

/// Usernames Uma accepts for local accounts: 1–64 letters, digits, `.`, `_`, `-`, not only
/// dots. No `@` or `\`: Proxmox permissions match a person by the name before them, so
/// `alice@partner` would hold the rights of the directory's `alice`.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.chars().all(|c| c == '.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Why a password could not be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The store refused.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Hashing failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

impl From<PasswordError> for AppError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Store(s) => s.into(),
            PasswordError::Hash(h) => AppError::internal(anyhow::anyhow!(h)),
        }
    }
}

/// Creates or updates a local account with this password; returns whether an existing
/// account's password changed (its sessions must then end).
pub async fn set_local_password(
    store: &Store,
    username: &str,
    pw: &str,
    is_admin: bool,
) -> Result<bool, PasswordError> {
    let changed = match store.local_account(username).await? {
        Some((_, account)) => !password::verify(pw, &account.password_hash),
        None => false,
    };
    let user = store.find_or_create_user(username, None).await?;
    let hash = password::hash(pw).map_err(|e| PasswordError::Hash(e.to_string()))?;
    store
        .upsert_local_account(&user.id, &hash, is_admin)
        .await?;
    Ok(changed)
}

/// The accounts service.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    audit: Audit,
    records: SessionRecords,
    sessions: uma_actors::root::Slot<uma_actors::sessions::SessionsMsg>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Accounts")
    }
}

impl Accounts {
    /// The service over these parts.
    pub fn new(
        store: Store,
        audit: Audit,
        records: SessionRecords,
        sessions: uma_actors::root::Slot<uma_actors::sessions::SessionsMsg>,
    ) -> Self {
        Self {
            store,
            audit,
            records,
            sessions,
        }
    }

    fn not_found(username: &str) -> AppError {
        AppError::with_message(
            ErrorCode::NotFound,
            format!("No local account '{username}'"),
        )
    }

    /// Everyone Uma knows: `{users: [{username, displayName, source, isAdmin, disabled,
    /// lastSignIn, activeSessions}]}`; a directory user's admin flag is the one of their last
    /// sign-in.
    pub async fn list(&self, caller: &Caller) -> AppResult<Value> {
        let users = self.store.all_users().await?;
        let locals = self.store.list_local_accounts().await?;
        let last = self.store.last_sign_ins().await?;
        let now = crate::store::now_ms();
        let live = self.store.active_sessions(now).await?;
        let list: Vec<Value> = users
            .iter()
            .map(|u| {
                let local = locals.iter().find(|a| a.username == u.username);
                let seen = last.iter().find(|(n, ..)| *n == u.username);
                json!({
                    "username": u.username,
                    "displayName": u.display_name,
                    "source": if local.is_some() { "local" } else { "directory" },
                    "isAdmin": local.map(|a| a.is_admin).or(seen.map(|s| s.2)).unwrap_or(false),
                    "disabled": local.is_some_and(|a| a.disabled),
                    "lastSignIn": seen.map(|s| s.1),
                    "activeSessions": live.iter().filter(|s| s.username == u.username).count(),
                })
            })
            .collect();
        self.audit.record(
            &caller.actor,
            AuditAction::AccountsView,
            "admin:users",
            Status::Success,
            json!({ "count": list.len() }),
        );
        Ok(json!({ "users": list }))
    }

    /// A new local account with a password Uma makes: `{username, password}`.
    pub async fn create(&self, caller: &Caller, username: &str, admin: bool) -> AppResult<Value> {
        let username = username.trim();
        let resource = format!("user:{username}");
        let refuse = |e: AppError| {
            self.audit
                .refused(&caller.actor, AuditAction::UserCreate, &resource, &e);
            e
        };
        if !valid_username(username) {
            return Err(refuse(AppError::field(
                "username",
                "use 1 to 64 letters, digits, '.', '_' or '-'",
            )));
        }
        if self.store.local_account_any_case(username).await?.is_some() {
            return Err(refuse(AppError::field(
                "username",
                "a local account of that name exists (give it a new password instead)",
            )));
        }
        // Nobody's name, whatever its case or domain: a local account would take their rights.
        let taken = self.store.all_users().await?.into_iter().any(|u| {
            u.username.eq_ignore_ascii_case(username)
                || crate::acl::local_name(&u.username).eq_ignore_ascii_case(username)
        });
        if taken {
            return Err(refuse(AppError::field(
                "username",
                "someone signed in with that name (or the same name in another case or domain); a local account can't take it over",
            )));
        }
        let pw = password::generate(GENERATED);
        set_local_password(&self.store, username, &pw, admin).await?;
        self.audit.record(
            &caller.actor,
            AuditAction::UserCreate,
            &resource,
            Status::Success,
            json!({ "admin": admin }),
        );
        Ok(json!({ "username": username, "password": pw }))
    }

    /// A new password (made by Uma) for a local account; its sessions end: `{password, ended}`.
    pub async fn reset_password(&self, caller: &Caller, username: &str) -> AppResult<Value> {
        let resource = format!("user:{username}");
        let Some((_, account)) = self.store.local_account(username).await? else {
            let e = Self::not_found(username);
            self.audit
                .refused(&caller.actor, AuditAction::UserPasswordReset, &resource, &e);
            return Err(e);
        };
        let pw = password::generate(GENERATED);
        set_local_password(&self.store, username, &pw, account.is_admin).await?;
        // A new password does not bring a disabled account back.
        if account.disabled {
            if let Some((user, _)) = self.store.local_account(username).await? {
                self.store
                    .set_local_account_disabled(&user.id, true)
                    .await?;
            }
        }
        let ended = self.end_sessions(username).await?;
        self.audit.record(
            &caller.actor,
            AuditAction::UserPasswordReset,
            &resource,
            Status::Success,
            json!({ "sessionsEnded": ended }),
        );
        Ok(json!({ "username": username, "password": pw, "ended": ended }))
    }

    /// Disables (its sessions end) or enables a local account.
    pub async fn set_disabled(
        &self,
        caller: &Caller,
        username: &str,
        disabled: bool,
    ) -> AppResult<Value> {
        let action = if disabled {
            AuditAction::UserDisable
        } else {
            AuditAction::UserEnable
        };
        let resource = format!("user:{username}");
        let refuse = |e: AppError| {
            self.audit.refused(&caller.actor, action, &resource, &e);
            e
        };
        if disabled && username == caller.username() {
            return Err(refuse(AppError::with_message(
                ErrorCode::InvalidInput,
                "You can't disable your own account (another administrator can)",
            )));
        }
        let Some((user, _)) = self.store.local_account(username).await? else {
            return Err(refuse(Self::not_found(username)));
        };
        self.store
            .set_local_account_disabled(&user.id, disabled)
            .await?;
        let ended = if disabled {
            self.end_sessions(username).await?
        } else {
            0
        };
        self.audit.record(
            &caller.actor,
            action,
            &resource,
            Status::Success,
            json!({ "sessionsEnded": ended }),
        );
        Ok(json!({ "username": username, "disabled": disabled, "ended": ended }))
    }

    /// Ends every session of a user (local or directory): `{ended}`.
    pub async fn revoke_sessions(&self, caller: &Caller, username: &str) -> AppResult<Value> {
        let ended = self.end_sessions(username).await?;
        self.audit.record(
            &caller.actor,
            AuditAction::SessionRevoked,
            &format!("user:session:{username}"),
            Status::Success,
            json!({ "username": username, "ended": ended }),
        );
        Ok(json!({ "username": username, "ended": ended }))
    }

    async fn end_sessions(&self, username: &str) -> AppResult<usize> {
        Ok(self
            .records
            .end_user(
                username,
                uma_actors::sessions::EndReason::Revoked,
                Some(&self.sessions),
            )
            .await?)
    }
}
