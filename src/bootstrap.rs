//! First-start chores: the data folder, the demo cookie secret, the local `admin` account.

use std::path::Path;

use crate::auth::password;
use crate::config::{Config, Secret};
use crate::store::{Store, StoreError};

/// Errors of the bootstrap steps.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A file under the data folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("cannot hash the admin password: {0}")]
    Hash(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The cookie secret: the configured one, else (demo mode) the one kept in
/// `<data>/cookie-secret`, generated on first start so sessions survive restarts.
pub fn cookie_secret(config: &Config) -> Result<Secret, BootstrapError> {
    if let Some(secret) = &config.session.cookie_secret {
        return Ok(secret.clone());
    }
    let path = config.server.data_dir.join("cookie-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(Secret::new(existing));
        }
    }
    std::fs::create_dir_all(&config.server.data_dir).map_err(io_err(&config.server.data_dir))?;
    let secret = password::generate(48);
    write_private(&path, &secret).map_err(io_err(&path))?;
    Ok(Secret::new(secret))
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

/// What happened to the `admin` account at start.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminAccount {
    /// Created with a generated password, to be printed once.
    Created {
        /// The generated password.
        password: String,
    },
    /// Created or reset from `UMA_ADMIN_PASSWORD`.
    SetFromEnvironment,
    /// Already there; untouched.
    Existing,
    /// Not created (not demo mode and no `UMA_ADMIN_PASSWORD`).
    NotCreated,
}

/// Ensures the local `admin` account: `UMA_ADMIN_PASSWORD` creates or resets it in every mode;
/// in demo mode a missing one is created with a generated password.
pub async fn admin_account(config: &Config, store: &Store) -> Result<AdminAccount, BootstrapError> {
    if let Some(pw) = &config.server.admin_password {
        if set_local_password(store, "admin", pw.expose(), true).await? {
            // A new password ends the sessions signed in with the old one (the running
            // instances notice within SESSION_RECHECK_SECS).
            store.revoke_user_sessions("admin").await?;
        }
        return Ok(AdminAccount::SetFromEnvironment);
    }
    if store.local_account("admin").await?.is_some() {
        return Ok(AdminAccount::Existing);
    }
    if !config.is_demo() {
        return Ok(AdminAccount::NotCreated);
    }
    let generated = password::generate(20);
    set_local_password(store, "admin", &generated, true).await?;
    Ok(AdminAccount::Created {
        password: generated,
    })
}

/// Creates or updates a local account with this password; returns whether an existing
/// account's password changed (its sessions must then end: the caller ends them, announcing
/// the ends where it can).
pub async fn set_local_password(
    store: &Store,
    username: &str,
    pw: &str,
    is_admin: bool,
) -> Result<bool, BootstrapError> {
    use crate::services::accounts::PasswordError;
    crate::services::accounts::set_local_password(store, username, pw, is_admin)
        .await
        .map_err(|e| match e {
            PasswordError::Store(s) => BootstrapError::Store(s),
            PasswordError::Hash(h) => BootstrapError::Hash(h),
        })
}
