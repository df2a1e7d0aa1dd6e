//! Local accounts and the people Uma knows, for administrators: who signed in and how, creating
//! a local account, giving it a new password, disabling and enabling it, ending someone's
//! sessions. A password Uma makes is shown once, to the administrator who asked for it; a
//! one-time link lets the person choose their own instead, and anyone with a local account can
//! change theirs. Everyone keeps a profile: the name others see, a picture, and a theme.

use serde_json::{json, Value};

use crate::audit::{Audit, AuditAction, Status};
use crate::auth::password;
use crate::auth::records::SessionRecords;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::Store;

/// Length of a password Uma makes.
const GENERATED: usize = 20;
/// How long a one-time password link stays valid.
pub const LINK_TTL_MS: i64 = 24 * 3600 * 1000;
/// What a link that can't be used answers (never saying which of the reasons it is).
const LINK_GONE: &str =
    "This link can't be used: it was used already, has expired, or a newer one replaced it. Ask an administrator for a new one.";
/// The limiter's name for failures of links (per address).
const LINK_LIMIT_NAME: &str = "(password link)";

/// The key a link's token is stored under: its SHA-256, in hex.
fn link_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

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

/// Display names nobody takes (they would pass for Uma or its administrators).
const RESERVED_NAMES: &[&str] = &["admin", "administrator", "uma", "system", "root", "general"];

/// Longest display name, in characters.
const DISPLAY_NAME_MAX: usize = 64;

/// `PUT /api/profile`: each field optional; `null` clears a name or picture.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    /// The name others see (`null` or empty: the username).
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
    /// The id of one of the caller's own uploaded pictures (`null`: none).
    #[serde(default, deserialize_with = "present")]
    pub avatar: Option<Option<String>>,
    /// `light`, `dark` or `system`.
    pub theme: Option<String>,
}

/// A field that is present, even as `null`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The accounts service.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    audit: Audit,
    records: SessionRecords,
    sessions: uma_actors::root::Slot<uma_actors::sessions::SessionsMsg>,
    limiter: std::sync::Arc<crate::limits::login::LoginLimiter>,
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
        limiter: std::sync::Arc<crate::limits::login::LoginLimiter>,
    ) -> Self {
        Self {
            store,
            audit,
            records,
            sessions,
            limiter,
        }
    }

    fn not_found(username: &str) -> AppError {
        AppError::with_message(
            ErrorCode::NotFound,
            format!("No local account '{username}'"),
        )
    }

    /// Everyone Uma knows: `{users: [{username, displayName, avatar, source, isAdmin, disabled,
    /// lastSignIn, activeSessions, secondFactor}]}`; a directory user's admin flag is the one of
    /// their last sign-in.
    pub async fn list(&self, caller: &Caller) -> AppResult<Value> {
        let users = self.store.all_users().await?;
        let locals = self.store.list_local_accounts().await?;
        let last = self.store.last_sign_ins().await?;
        let now = crate::store::now_ms();
        let live = self.store.active_sessions(now).await?;
        let mut with_app = self.store.users_with_totp().await?;
        with_app.extend(self.store.users_with_passkeys().await?);
        let list: Vec<Value> = users
            .iter()
            .map(|u| {
                let local = locals.iter().find(|a| a.username == u.username);
                let seen = last.iter().find(|(n, ..)| *n == u.username);
                json!({
                    "username": u.username,
                    "displayName": u.display_name,
                    "avatar": u.avatar,
                    "source": if local.is_some() { "local" } else { "directory" },
                    "isAdmin": local.map(|a| a.is_admin).or(seen.map(|s| s.2)).unwrap_or(false),
                    "disabled": local.is_some_and(|a| a.disabled),
                    "lastSignIn": seen.map(|s| s.1),
                    "activeSessions": live.iter().filter(|s| s.username == u.username).count(),
                    "secondFactor": with_app.contains(&u.id),
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
        let (user, _) = self
            .store
            .local_account(username)
            .await?
            .ok_or_else(|| Self::not_found(username))?;
        // A new password does not bring a disabled account back, and ends any link.
        if account.disabled {
            self.store
                .set_local_account_disabled(&user.id, true)
                .await?;
        }
        self.store
            .drop_password_resets(&user.id, crate::store::now_ms())
            .await?;
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

    /// A one-time link for a local account to choose its own password:
    /// `{username, path, expiresAt}`, where `path` (`/password-reset#<token>`) is shown once.
    /// Older links of the account stop working; the current password works until the link is
    /// used.
    pub async fn reset_link(&self, caller: &Caller, username: &str) -> AppResult<Value> {
        let resource = format!("user:{username}");
        let Some((user, _)) = self.store.local_account(username).await? else {
            let e = Self::not_found(username);
            self.audit
                .refused(&caller.actor, AuditAction::UserPasswordLink, &resource, &e);
            return Err(e);
        };
        let now = crate::store::now_ms();
        self.store.drop_password_resets(&user.id, now).await?;
        let token = crate::auth::session::random_token();
        let expires_at = now + LINK_TTL_MS;
        self.store
            .create_password_reset(&link_hash(&token), &user.id, caller.username(), expires_at)
            .await?;
        self.audit.record(
            &caller.actor,
            AuditAction::UserPasswordLink,
            &resource,
            Status::Success,
            json!({ "expiresAt": expires_at }),
        );
        Ok(json!({
            "username": username,
            "path": format!("/password-reset#{token}"),
            "expiresAt": expires_at,
        }))
    }

    /// Counts a refused link against the address (the sign-in limits); `Err` when the address
    /// is blocked.
    async fn link_allowed(&self, ip: &str) -> AppResult<()> {
        match self.limiter.check(ip, LINK_LIMIT_NAME).await {
            crate::limits::login::Verdict::Blocked { retry_after } => Err(AppError::with_message(
                ErrorCode::RateLimited,
                format!(
                    "Too many attempts. Try again in {} minutes.",
                    retry_after.div_ceil(60)
                ),
            )),
            _ => Ok(()),
        }
    }

    async fn link_gone(&self, actor: &crate::audit::Actor, ip: &str) -> AppError {
        self.limiter.fail(ip, LINK_LIMIT_NAME).await;
        let e = AppError::with_message(ErrorCode::NotFound, LINK_GONE);
        self.audit.refused(
            actor,
            AuditAction::PasswordLinkUsed,
            "user:password-link",
            &e,
        );
        e
    }

    /// Whom a link is for, while it can be used: `{username, expiresAt}`.
    pub async fn link_holder(
        &self,
        actor: &crate::audit::Actor,
        ip: &str,
        token: &str,
    ) -> AppResult<Value> {
        self.link_allowed(ip).await?;
        match self
            .store
            .password_reset(&link_hash(token), crate::store::now_ms())
            .await?
        {
            Some((username, expires_at)) => {
                Ok(json!({ "username": username, "expiresAt": expires_at }))
            }
            None => Err(self.link_gone(actor, ip).await),
        }
    }

    /// Uses a link: the account gets `new_password` (its sessions end; disabled stays
    /// disabled), and the link and every other of the account stop working: `{username}`.
    pub async fn use_link(
        &self,
        actor: &crate::audit::Actor,
        ip: &str,
        token: &str,
        new_password: &str,
    ) -> AppResult<Value> {
        self.link_allowed(ip).await?;
        let now = crate::store::now_ms();
        let hash = link_hash(token);
        let Some((username, _)) = self.store.password_reset(&hash, now).await? else {
            return Err(self.link_gone(actor, ip).await);
        };
        let as_them = crate::audit::Actor {
            username: username.clone(),
            ..actor.clone()
        };
        let resource = format!("user:{username}");
        // A refused password leaves the link usable.
        if let Some(why) = password::refusal(new_password, &username) {
            let e = AppError::field("password", why);
            self.audit
                .refused(&as_them, AuditAction::PasswordLinkUsed, &resource, &e);
            return Err(e);
        }
        let Some(user_id) = self.store.take_password_reset(&hash, now).await? else {
            return Err(self.link_gone(actor, ip).await);
        };
        let hashed =
            password::hash(new_password).map_err(|e| PasswordError::Hash(e.to_string()))?;
        self.store
            .set_local_password_hash(&user_id, &hashed)
            .await?;
        self.store.drop_password_resets(&user_id, now).await?;
        let ended = self.end_sessions(&username).await?;
        self.limiter.succeed(ip, LINK_LIMIT_NAME).await;
        self.audit.record(
            &as_them,
            AuditAction::PasswordLinkUsed,
            &resource,
            Status::Success,
            json!({ "sessionsEnded": ended }),
        );
        Ok(json!({ "username": username }))
    }

    /// The caller changes their own local password: `current` must be right (wrong ones count
    /// toward the sign-in limits); every other session of theirs ends: `{ended}`.
    pub async fn change_own(
        &self,
        caller: &Caller,
        session_id: &str,
        current: &str,
        new_password: &str,
    ) -> AppResult<Value> {
        let username = caller.username().to_owned();
        let resource = format!("user:{username}");
        let refuse = |e: AppError| {
            self.audit
                .refused(&caller.actor, AuditAction::PasswordChange, &resource, &e);
            e
        };
        let Some((user, account)) = self.store.local_account(&username).await? else {
            return Err(refuse(AppError::with_message(
                ErrorCode::InvalidInput,
                "Your password is kept by your directory; change it there.",
            )));
        };
        let ip = caller.actor.ip.clone().unwrap_or_default();
        if let crate::limits::login::Verdict::Blocked { retry_after } =
            self.limiter.check(&ip, &username).await
        {
            return Err(refuse(AppError::with_message(
                ErrorCode::RateLimited,
                format!(
                    "Too many wrong passwords. Try again in {} minutes.",
                    retry_after.div_ceil(60)
                ),
            )));
        }
        if current.len() > password::MAX_BYTES || !password::verify(current, &account.password_hash)
        {
            self.limiter.fail(&ip, &username).await;
            return Err(refuse(AppError::field(
                "current",
                "that is not your current password",
            )));
        }
        if let Some(why) = password::refusal(new_password, &username) {
            return Err(refuse(AppError::field("password", why)));
        }
        if new_password == current {
            return Err(refuse(AppError::field(
                "password",
                "choose a password other than your current one",
            )));
        }
        let hashed =
            password::hash(new_password).map_err(|e| PasswordError::Hash(e.to_string()))?;
        self.store
            .set_local_password_hash(&user.id, &hashed)
            .await?;
        let now = crate::store::now_ms();
        self.store.drop_password_resets(&user.id, now).await?;
        self.limiter.succeed(&ip, &username).await;
        let mut ended = 0;
        for r in self.store.active_sessions(now).await? {
            if r.username == username && r.id != session_id {
                self.records
                    .end(
                        &r.id,
                        uma_actors::sessions::EndReason::Revoked,
                        &self.sessions,
                    )
                    .await?;
                ended += 1;
            }
        }
        self.audit.record(
            &caller.actor,
            AuditAction::PasswordChange,
            &resource,
            Status::Success,
            json!({ "sessionsEnded": ended }),
        );
        Ok(json!({ "ended": ended }))
    }

    /// The caller's profile: `{username, displayName, avatar, theme, localAccount}`.
    pub async fn profile(&self, caller: &Caller) -> AppResult<Value> {
        let user = self
            .store
            .find_or_create_user(caller.username(), None)
            .await?;
        let theme = self.store.user_theme(&user.id).await?;
        let local = self.store.local_account(caller.username()).await?.is_some();
        Ok(json!({
            "username": user.username,
            "displayName": user.display_name,
            "avatar": user.avatar,
            "theme": theme.as_deref().unwrap_or("system"),
            "localAccount": local,
        }))
    }

    /// Changes the caller's profile; a new name shows on their live sessions at once.
    pub async fn update_profile(&self, caller: &Caller, patch: ProfilePatch) -> AppResult<Value> {
        let resource = format!("user:{}", caller.username());
        let refuse = |e: AppError| {
            self.audit
                .refused(&caller.actor, AuditAction::ProfileUpdate, &resource, &e);
            e
        };
        let user = self
            .store
            .find_or_create_user(caller.username(), None)
            .await?;
        let theme = match patch.theme.as_deref() {
            None => None,
            Some("system") => Some(None),
            Some(t @ ("light" | "dark")) => Some(Some(t)),
            Some(_) => {
                return Err(refuse(AppError::field(
                    "theme",
                    "choose light, dark or system",
                )))
            }
        };
        let display_name = match patch.display_name {
            None => user.display_name.clone(),
            Some(name) => {
                let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
                if let Some(n) = &name {
                    if n.chars().count() > DISPLAY_NAME_MAX {
                        return Err(refuse(AppError::field(
                            "displayName",
                            "use at most 64 characters",
                        )));
                    }
                    if n.chars()
                        .any(|c| c.is_control() || crate::services::uploads::is_format_char(c))
                    {
                        return Err(refuse(AppError::field(
                            "displayName",
                            "use letters, digits, spaces and punctuation only",
                        )));
                    }
                    // Nobody passes for someone else, or for the system.
                    let own = n.eq_ignore_ascii_case(&user.username);
                    let reserved = RESERVED_NAMES.iter().any(|r| n.eq_ignore_ascii_case(r));
                    if !own && (reserved || self.store.name_taken(n, &user.id).await?) {
                        return Err(refuse(AppError::field(
                            "displayName",
                            "someone else goes by that name (or it is reserved); choose another",
                        )));
                    }
                }
                name
            }
        };
        let avatar = match patch.avatar {
            None => user.avatar.clone(),
            Some(None) => None,
            Some(Some(id)) => match self.store.upload(&id).await? {
                Some(u)
                    if u.uploaded_by == caller.username()
                        && u.content_type.starts_with("image/") =>
                {
                    Some(format!("/uploads/{}", u.stored_name))
                }
                // Someone else's upload does not exist for the caller.
                Some(u) if u.uploaded_by == caller.username() => {
                    return Err(refuse(AppError::field(
                        "avatar",
                        "choose a picture (PNG, JPEG, GIF or WebP)",
                    )))
                }
                _ => return Err(refuse(AppError::field("avatar", "no such upload of yours"))),
            },
        };
        let before = json!({ "displayName": user.display_name, "avatar": user.avatar });
        self.store
            .set_user_profile(&user.id, display_name.as_deref(), avatar.as_deref())
            .await?;
        if let Some(t) = theme {
            self.store.set_user_theme(&user.id, t).await?;
        }
        if display_name != user.display_name {
            let ids = self
                .store
                .set_session_display_names(caller.username(), display_name.as_deref())
                .await?;
            self.records.changed(&ids).await;
        }
        self.audit.record(
            &caller.actor,
            AuditAction::ProfileUpdate,
            &resource,
            Status::Success,
            json!({
                "before": before,
                "after": { "displayName": display_name, "avatar": avatar },
                "theme": patch.theme,
            }),
        );
        self.profile(caller).await
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
        if disabled {
            self.store
                .drop_password_resets(&user.id, crate::store::now_ms())
                .await?;
        }
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

    /// Cuts a person off: their sessions end, their API tokens are revoked (their live
    /// connections end too) and sign-ins waiting for a second factor are dropped. Gives how many
    /// sessions ended.
    async fn end_sessions(&self, username: &str) -> AppResult<usize> {
        if let Some(user) = self.store.user_by_username(username).await? {
            let tokens = self.store.delete_user_tokens(&user.id).await?;
            crate::auth::tokens::end_sessions(&self.records, &self.sessions, &tokens).await;
            self.store.drop_challenges(&user.id).await?;
        }
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
