//! Start-up refusals: each bad setting stops `uma` with one clear line per problem and a
//! non-zero exit, never a panic or a stack trace.

use std::process::Command;

use crate::support::temp_dir;

fn run(args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let dir = temp_dir("cli");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uma"));
    cmd.args(args).current_dir(&dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("UMA_DATA_DIR", dir.join("data"))
        .env("PORT", "0")
        .env("HOSTNAME", "127.0.0.1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run uma");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_clean_failure(stderr: &str) {
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
}

#[test]
fn short_cookie_secret_stops_start_up() {
    let (code, _, err) = run(&["serve"], &[("SECRET_COOKIE_PASSWORD", "too-short")]);
    assert_eq!(code, 2, "{err}");
    assert_clean_failure(&err);
    let lines: Vec<_> = err
        .lines()
        .filter(|l| l.contains("SECRET_COOKIE_PASSWORD"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("at least 32 characters"), "{err}");
}

#[test]
fn bad_database_url_stops_start_up() {
    let (code, _, err) = run(&["serve"], &[("DATABASE_URL", "postgres://u@h/db")]);
    assert_eq!(code, 2, "{err}");
    assert_clean_failure(&err);
    let lines: Vec<_> = err.lines().filter(|l| l.contains("DATABASE_URL")).collect();
    assert_eq!(lines.len(), 1, "{err}");
}

#[test]
fn unreachable_mariadb_stops_start_up_with_one_line() {
    let (code, _, err) = run(
        &["serve"],
        &[("DATABASE_URL", "mysql://root@127.0.0.1:1/uma")],
    );
    assert_eq!(code, 1, "{err}");
    assert_clean_failure(&err);
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line expected: {err}");
    assert!(
        lines[0].contains("cannot connect to the database (MariaDB (127.0.0.1:1/uma))"),
        "{err}"
    );
}

#[test]
fn bad_openid_providers_stop_start_up() {
    let (code, _, err) = run(
        &["serve"],
        &[
            ("OIDC_PROVIDERS", "keycloak,google,Bad Name"),
            ("OIDC_KEYCLOAK_ISSUER", "ftp://idp.example.com/realms/main"),
            ("OIDC_KEYCLOAK_CLIENT_ID", "uma"),
            ("OIDC_GOOGLE_ISSUER", "https://accounts.google.com"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert_clean_failure(&err);
    let lines: Vec<_> = err.lines().filter(|l| l.contains("OIDC_")).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        err.contains("OIDC_KEYCLOAK_ISSUER='ftp://idp.example.com/realms/main' has scheme 'ftp', expected https"),
        "{err}"
    );
    assert!(
        err.contains("OIDC_GOOGLE_CLIENT_ID is required for the provider 'google'"),
        "{err}"
    );
    assert!(err.contains("'bad name' is not a provider name"), "{err}");
    // A provider that is down does not stop start-up: it is read at first use.
    let (code, out, err) = run(
        &["check-config"],
        &[
            ("OIDC_PROVIDERS", "keycloak"),
            ("OIDC_KEYCLOAK_ISSUER", "https://127.0.0.1:1/realms/main"),
            ("OIDC_KEYCLOAK_CLIENT_ID", "uma"),
            ("OIDC_KEYCLOAK_CLIENT_SECRET", "kc-secret-value"),
            ("OIDC_KEYCLOK_LABEL", "typo"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("kc-secret-value"), "{out}");
    assert!(
        out.contains("OIDC_<NAME>_CLIENT_SECRET=keycloak=[redacted]"),
        "{out}"
    );
    assert!(out.contains("unknown setting OIDC_KEYCLOK_LABEL"), "{out}");
}

#[test]
fn check_config_redacts_secrets_and_lists_problems() {
    let secret = "s3cr3t-value-that-is-long-enough-for-uma";
    let (code, out, _) = run(
        &["check-config"],
        &[
            ("SECRET_COOKIE_PASSWORD", secret),
            ("PROXMOX_TOKNE_ID", "x"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(secret));
    assert!(out.contains("SECRET_COOKIE_PASSWORD=[redacted]"));
    assert!(out.contains("PORT=0"));
    assert!(out.contains("unknown setting PROXMOX_TOKNE_ID"));
    let (code, out, _) = run(&["check-config"], &[("SESSION_TTL", "abc"), ("PORT", "x")]);
    assert_eq!(code, 2);
    assert!(out.contains("# problem: SESSION_TTL"), "{out}");
    assert!(out.contains("# problem: PORT"), "{out}");
}

#[test]
fn migrate_and_user_commands() {
    let dir = temp_dir("cli-user");
    let db = format!("sqlite://{}", dir.join("u.db").display());
    let vars = [("DATABASE_URL", db.as_str())];
    let (code, out, err) = run(&["migrate"], &vars);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("33 tables"), "{out}");
    let (code, out, err) = run(&["user", "add", "ops", "--admin"], &vars);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ops: password set to "), "{out}");
    let (code, _, err) = run(&["user", "add", "ops"], &vars);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
    let (code, _, _) = run(&["user", "disable", "ops"], &vars);
    assert_eq!(code, 0);
    let (_, out, _) = run(&["user", "list"], &vars);
    assert!(
        out.lines()
            .any(|l| l.starts_with("ops") && l.contains("yes") && l.contains("disabled")),
        "{out}"
    );
    let (code, _, err) = run(&["user", "passwd", "nobody"], &vars);
    assert_eq!(code, 1);
    assert!(err.contains("no local account"), "{err}");
    let (code, out, _) = run(&["secrets", "generate"], &[]);
    assert_eq!(code, 0);
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("SECRET_COOKIE_PASSWORD="))
        .unwrap();
    assert!(secret.len() >= 32);
}
