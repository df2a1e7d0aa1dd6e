//! The command line: `uma` / `uma serve`, `uma migrate`, `uma secrets generate`,
//! `uma check-config`, `uma check-realms`, `uma init-templates`, `uma user add|passwd|list|disable`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Deserialize;

use crate::app::{self, App};
use crate::auth::password;
use crate::config::{self, Config, ProxmoxMode};
use crate::hardware_defaults::Outcome;
use crate::pve::{PveClient, PveEndpoint};
use crate::tls::TrustSettings;

/// Uma: a self-service web console for Proxmox VE.
#[derive(Debug, Parser)]
#[command(name = "uma", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Secrets helpers.
    Secrets {
        /// What to do with secrets.
        #[command(subcommand)]
        action: SecretsAction,
    },
    /// Print the effective configuration (secrets redacted) and every problem found.
    CheckConfig,
    /// List the Proxmox realms (`/access/domains`) and check `PROXMOX_USER_REALM` against them.
    CheckRealms,
    /// Install the prebuilt hardware templates that are missing (existing ones are kept).
    InitTemplates,
    /// Manage local accounts.
    User {
        /// What to do with local accounts.
        #[command(subcommand)]
        action: UserAction,
    },
    /// The audit log: verify its chain, prune old rows.
    Audit {
        /// What to do with the audit log.
        #[command(subcommand)]
        action: AuditCommand,
    },
}

/// `uma audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain of audit rows; name the first row changed, removed or added outside Uma
    /// (exit status 1 then).
    Verify,
    /// Delete rows older than a date (YYYY-MM-DD), leaving a signed checkpoint so the rest still
    /// verifies.
    Prune {
        /// Rows before this day (UTC) go.
        #[arg(long)]
        before: String,
    },
}

/// `uma secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Print freshly generated secrets as `.env` lines.
    Generate,
}

/// `uma user …`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a local account (password read from stdin, or generated and printed).
    Add {
        /// Login name.
        username: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a local account's password (read from stdin, or generated and printed).
    Passwd {
        /// Login name.
        username: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List local accounts.
    List,
    /// Disable a local account (it can no longer sign in).
    Disable {
        /// Login name.
        username: String,
    },
    /// Re-enable a disabled local account.
    Enable {
        /// Login name.
        username: String,
    },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("uma: {message}");
    ExitCode::FAILURE
}

/// Loads and validates the configuration; prints one line per problem on failure.
fn load_config() -> Result<Config, ExitCode> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let vars = config::load_env(&cwd).map_err(|p| fail(format!("configuration: {p}")))?;
    Config::from_vars(&vars).map_err(|problems| {
        for p in &problems {
            eprintln!("uma: configuration: {p}");
        }
        eprintln!(
            "uma: {} configuration problem(s); see docs/environment.md",
            problems.len()
        );
        ExitCode::from(2)
    })
}

/// Entry point of the binary.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::Secrets {
            action: SecretsAction::Generate,
        } => {
            println!("# Paste into .env (or store each in a file and use NAME_FILE).");
            println!("SECRET_COOKIE_PASSWORD={}", password::generate(48));
            println!("UMA_ADMIN_PASSWORD={}", password::generate(20));
            ExitCode::SUCCESS
        }
        Command::CheckConfig => check_config(),
        Command::CheckRealms => check_realms().await,
        Command::InitTemplates => init_templates().await,
        Command::User { action } => user(action).await,
        Command::Audit { action } => audit(action).await,
    }
}

async fn audit(action: AuditCommand) -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The chain's key comes from the deployment's cookie secret: a command that made a new one
    // (another data folder, another environment) would sign with the wrong key.
    let secret_file = config.server.data_dir.join("cookie-secret");
    if config.session.cookie_secret.is_none() && !secret_file.exists() {
        return fail(format!(
            "no cookie secret: set SECRET_COOKIE_PASSWORD as the server has it, or run where {} is",
            secret_file.display()
        ));
    }
    let secret = match crate::bootstrap::cookie_secret(&config) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let store = match app::open_store(&config).await {
        Ok(s) => s.with_audit_key(crate::audit::chain_key(&secret)),
        Err(e) => return fail(e),
    };
    let code = match action {
        AuditCommand::Verify => match store.verify_audit_chain().await {
            Ok(r) => match &r.broken {
                None => {
                    println!(
                        "audit chain intact: {} rows checked (from #{} to #{})",
                        r.checked, r.from, r.head
                    );
                    ExitCode::SUCCESS
                }
                Some(b) => {
                    println!(
                        "audit chain broken at #{}{}: {}",
                        b.seq,
                        b.id.as_deref()
                            .map(|id| format!(" (row {id})"))
                            .unwrap_or_default(),
                        b.reason
                    );
                    println!("{} rows before it checked", r.checked);
                    ExitCode::FAILURE
                }
            },
            Err(e) => fail(e),
        },
        AuditCommand::Prune { before } => {
            let at = match crate::http::admin::parse_instant(&before, false) {
                Some(at) if before.trim().len() == 10 => at,
                _ => return fail(format!("--before: '{before}' is not a date (YYYY-MM-DD)")),
            };
            if at > crate::store::now_ms() {
                return fail(format!(
                    "--before: {before} is in the future; that would delete the whole log"
                ));
            }
            match store.purge_audit(at).await {
                Ok(n) => {
                    // The prune itself is in the log (and in the chain).
                    let row = crate::store::audit::NewAudit {
                        username: "uma".into(),
                        action: crate::audit::AuditAction::AuditPrune.as_str().into(),
                        resource: "audit-logs".into(),
                        details: serde_json::json!({ "before": before, "deleted": n }),
                        status: "SUCCESS".into(),
                        ..Default::default()
                    };
                    if let Err(e) = store.insert_audit_rows(&[row]).await {
                        eprintln!("uma: the prune could not be recorded in the audit log: {e}");
                    }
                    println!("{n} audit rows before {before} deleted; a signed checkpoint keeps the chain verifiable");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    };
    store.close().await;
    code
}

async fn serve() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::telemetry::init(config.server.log_format, &config.server.log_filter);
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => return fail(e),
    };
    app.log_banner();
    match app.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("server error: {e}")),
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn migrate() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match app::open_store(&config).await {
        Ok(store) => {
            let tables = store.table_names().await.unwrap_or_default();
            println!(
                "{}: migrations applied, {} tables",
                config.database.describe(),
                tables.len()
            );
            store.close().await;
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn check_config() -> ExitCode {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let vars = match config::load_env(&cwd) {
        Ok(v) => v,
        Err(p) => return fail(format!("configuration: {p}")),
    };
    match Config::from_vars(&vars) {
        Ok(config) => {
            for (k, v) in config.effective() {
                println!("{k}={v}");
            }
            for key in &config.unknown_keys {
                println!("# warning: unknown setting {key} is ignored");
            }
            for warning in &config.warnings {
                println!("# warning: {warning}");
            }
            println!("# configuration OK");
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                println!("# problem: {p}");
            }
            ExitCode::from(2)
        }
    }
}

async fn init_templates() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let store = match app::open_store(&config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let code = match crate::hardware_defaults::install(&store).await {
        Ok(done) => {
            let mut installed = 0;
            for (id, name, outcome) in &done {
                match outcome {
                    Outcome::Installed => {
                        installed += 1;
                        println!("installed {id} ({name})");
                    }
                    Outcome::Skipped => println!("skipped {id} ({name}): it exists"),
                }
            }
            println!(
                "{}: {installed} template(s) installed, {} already there",
                config.database.describe(),
                done.len() - installed
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot install the templates: {e}")),
    };
    store.close().await;
    code
}

/// One authentication realm of a cluster (`GET /access/domains`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Realm {
    /// Realm id, the part after `@` in user ids.
    pub realm: String,
    /// `pam`, `pve`, `ldap`, `ad`, `openid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
}

/// How `PROXMOX_USER_REALM` compares with the cluster's realms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealmVerdict {
    /// It names one of them.
    Matches(String),
    /// It names one of them but with different letter case (Proxmox compares exactly).
    CaseDiffers {
        /// What is configured.
        configured: String,
        /// The realm as Proxmox spells it.
        actual: String,
    },
    /// It names none of them.
    Unknown(String),
    /// It is not set.
    Unset,
}

/// Compares the configured realm with the cluster's.
pub fn realm_verdict(realms: &[Realm], configured: Option<&str>) -> RealmVerdict {
    let Some(configured) = configured.map(str::trim).filter(|c| !c.is_empty()) else {
        return RealmVerdict::Unset;
    };
    if realms.iter().any(|r| r.realm == configured) {
        return RealmVerdict::Matches(configured.to_owned());
    }
    match realms
        .iter()
        .find(|r| r.realm.eq_ignore_ascii_case(configured))
    {
        Some(r) => RealmVerdict::CaseDiffers {
            configured: configured.to_owned(),
            actual: r.realm.clone(),
        },
        None => RealmVerdict::Unknown(configured.to_owned()),
    }
}

/// The client for `PROXMOX_URL`, built as the server builds it.
fn remote_client(p: &config::ProxmoxConfig) -> Result<PveClient, String> {
    let extra_roots_pem = match &p.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("PROXMOX_CA_FILE {}: {e}", path.display()))?,
        ),
        None => None,
    };
    PveClient::new(PveEndpoint {
        url: p.url.clone(),
        token_id: p.token_id.clone(),
        token_secret: p.token_secret.clone(),
        trust: TrustSettings {
            extra_roots_pem,
            pinned_sha256: p.fingerprint.as_deref().and_then(config::parse_fingerprint),
            insecure: p.insecure,
        },
    })
    .map_err(|e| e.to_string())
}

async fn check_realms() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let ProxmoxMode::Remote(remote) = &config.proxmox.mode else {
        return fail(
            "PROXMOX_URL is not set: Uma would run its embedded simulator (demo mode), which has no \
             realms to check. Set PROXMOX_URL, PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET first.",
        );
    };
    crate::tls::install_crypto_provider();
    let pve = match remote_client(remote) {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot set up the Proxmox client: {e}")),
    };
    let realms: Vec<Realm> = match pve.get("access/domains").await {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot list the realms of {}: {e}", remote.url)),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{:<20} {:<8} COMMENT", "REALM", "TYPE");
    for r in &realms {
        let _ = writeln!(
            out,
            "{:<20} {:<8} {}",
            r.realm,
            r.kind,
            r.comment.as_deref().unwrap_or("")
        );
    }
    let names: Vec<&str> = realms.iter().map(|r| r.realm.as_str()).collect();
    match realm_verdict(&realms, config.proxmox.user_realm.as_deref()) {
        RealmVerdict::Matches(realm) => {
            let _ = writeln!(out, "PROXMOX_USER_REALM={realm} matches a realm of the cluster");
            ExitCode::SUCCESS
        }
        RealmVerdict::CaseDiffers { configured, actual } => fail(format!(
            "PROXMOX_USER_REALM={configured} differs in letter case from the realm {actual}; Proxmox compares user ids exactly, so set PROXMOX_USER_REALM={actual}"
        )),
        RealmVerdict::Unknown(configured) => fail(format!(
            "PROXMOX_USER_REALM={configured} is not a realm of this cluster; set it to one of: {}",
            names.join(", ")
        )),
        RealmVerdict::Unset => fail(format!(
            "PROXMOX_USER_REALM is not set; set it to the realm your Uma users sign in with, one of: {}",
            names.join(", ")
        )),
    }
}

fn read_password_stdin() -> Result<String, ExitCode> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| fail(format!("cannot read the password: {e}")))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    if pw.chars().count() < crate::auth::password::MIN_CHARS {
        return Err(fail("the password must have at least 8 characters"));
    }
    Ok(pw)
}

async fn user(action: UserAction) -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let store = match app::open_store(&config).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let code = match action {
        UserAction::Add {
            username,
            admin,
            password_stdin,
        } => {
            if !valid_username(&username) {
                return fail("usernames are 1-64 letters, digits, '.', '_' or '-' (not only dots)");
            }
            match store.local_account(&username).await {
                Ok(Some(_)) => {
                    return fail(format!(
                        "local account '{username}' exists; use `uma user passwd`"
                    ))
                }
                Ok(None) => {}
                Err(e) => return fail(e),
            }
            // A name that signed in through the directory stays the directory's: a local account
            // would shadow it.
            match store.user_by_username(&username).await {
                Ok(Some(_)) => {
                    return fail(format!(
                    "'{username}' is a directory user; a local account can't take over that name"
                ))
                }
                Ok(None) => {}
                Err(e) => return fail(e),
            }
            set_password(&config, &store, &username, admin, password_stdin).await
        }
        UserAction::Passwd {
            username,
            password_stdin,
        } => match store.local_account(&username).await {
            Ok(Some((_, account))) => {
                set_password(&config, &store, &username, account.is_admin, password_stdin).await
            }
            Ok(None) => fail(format!("no local account '{username}'")),
            Err(e) => fail(e),
        },
        UserAction::List => match store.list_local_accounts().await {
            Ok(list) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{:<32} {:<6} {:<9}", "USERNAME", "ADMIN", "STATE");
                for a in list {
                    let _ = writeln!(
                        out,
                        "{:<32} {:<6} {:<9}",
                        a.username,
                        if a.is_admin { "yes" } else { "no" },
                        if a.disabled { "disabled" } else { "active" }
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        UserAction::Disable { username } => set_disabled(&config, &store, &username, true).await,
        UserAction::Enable { username } => set_disabled(&config, &store, &username, false).await,
    };
    store.close().await;
    code
}

async fn set_password(
    config: &Config,
    store: &crate::store::Store,
    username: &str,
    admin: bool,
    from_stdin: bool,
) -> ExitCode {
    let (pw, generated) = if from_stdin {
        match read_password_stdin() {
            Ok(pw) => (pw, false),
            Err(code) => return code,
        }
    } else {
        (password::generate(20), true)
    };
    match crate::bootstrap::set_local_password(store, username, &pw, admin).await {
        Ok(changed) => {
            if generated {
                println!("{username}: password set to {pw}");
            } else {
                println!("{username}: password set");
            }
            if changed {
                return end_sessions(config, store, username).await;
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn set_disabled(
    config: &Config,
    store: &crate::store::Store,
    username: &str,
    disabled: bool,
) -> ExitCode {
    match store.local_account(username).await {
        Ok(Some((user, _))) => match store.set_local_account_disabled(&user.id, disabled).await {
            Ok(()) => {
                println!(
                    "{username}: {}",
                    if disabled { "disabled" } else { "enabled" }
                );
                if disabled {
                    return end_sessions(config, store, username).await;
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Ok(None) => fail(format!("no local account '{username}'")),
        Err(e) => fail(e),
    }
}

/// Ends every session of `username`: revoked in the store, and with `REDIS_URL` the running
/// instances drop their cached copies and close the sockets and consoles at once; without it
/// (or while Redis is away) they notice within `SESSION_RECHECK_SECS`.
async fn end_sessions(config: &Config, store: &crate::store::Store, username: &str) -> ExitCode {
    // API tokens and sign-ins waiting for a second factor go too; running instances end the
    // tokens' open connections at their next re-check.
    match store.user_by_username(username).await {
        Ok(Some(user)) => {
            match store.delete_user_tokens(&user.id).await {
                Ok(ids) if !ids.is_empty() => println!(
                    "{username}: {} API token{} revoked",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" }
                ),
                Ok(_) => {}
                Err(e) => {
                    return fail(format!(
                        "the API tokens of {username} could not be revoked: {e}"
                    ))
                }
            }
            if let Err(e) = store.drop_challenges(&user.id).await {
                return fail(e);
            }
        }
        Ok(None) => {}
        Err(e) => return fail(e),
    }
    let (records, redis_problem) = crate::auth::records::for_command(config, store.clone()).await;
    match records
        .end_user(username, uma_actors::sessions::EndReason::Revoked, None)
        .await
    {
        Ok(n) => {
            println!(
                "{username}: {n} session{} ended",
                if n == 1 { "" } else { "s" }
            );
            if n > 0 {
                if let Some(problem) = redis_problem {
                    eprintln!(
                        "uma: Redis: {problem}; running instances end these sessions within SESSION_RECHECK_SECS ({} s)",
                        config.session.recheck.as_secs()
                    );
                } else if records.has_pending() {
                    eprintln!(
                        "uma: Redis did not take every announcement; running instances end these sessions within SESSION_RECHECK_SECS ({} s)",
                        config.session.recheck.as_secs()
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!(
            "the sessions of {username} could not be ended: {e}"
        )),
    }
}

/// Usernames Uma accepts for local accounts.
pub fn valid_username(name: &str) -> bool {
    crate::services::accounts::valid_username(name)
}
