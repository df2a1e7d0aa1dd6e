//! The command line: `uma` / `uma serve`, `uma migrate`, `uma secrets generate`,
//! `uma check-config`, `uma user add|passwd|list|disable`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, App};
use crate::auth::password;
use crate::config::{self, Config};

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
    /// Manage local accounts.
    User {
        /// What to do with local accounts.
        #[command(subcommand)]
        action: UserAction,
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
        Command::User { action } => user(action).await,
    }
}

async fn serve() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::telemetry::init(config.log_format, &config.log_filter);
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

fn read_password_stdin() -> Result<String, ExitCode> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| fail(format!("cannot read the password: {e}")))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    if pw.chars().count() < 8 {
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
                return fail("usernames are 1-64 letters, digits, '.', '_', '-' or '@'");
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
            set_password(&store, &username, admin, password_stdin).await
        }
        UserAction::Passwd {
            username,
            password_stdin,
        } => match store.local_account(&username).await {
            Ok(Some((_, account))) => {
                set_password(&store, &username, account.is_admin, password_stdin).await
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
        UserAction::Disable { username } => set_disabled(&store, &username, true).await,
        UserAction::Enable { username } => set_disabled(&store, &username, false).await,
    };
    store.close().await;
    code
}

async fn set_password(
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
        Ok(()) => {
            if generated {
                println!("{username}: password set to {pw}");
            } else {
                println!("{username}: password set");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn set_disabled(store: &crate::store::Store, username: &str, disabled: bool) -> ExitCode {
    match store.local_account(username).await {
        Ok(Some((user, _))) => match store.set_local_account_disabled(&user.id, disabled).await {
            Ok(()) => {
                println!(
                    "{username}: {}",
                    if disabled { "disabled" } else { "enabled" }
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Ok(None) => fail(format!("no local account '{username}'")),
        Err(e) => fail(e),
    }
}

/// Usernames Uma accepts for local accounts.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}
