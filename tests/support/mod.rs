//! Test harness: `TestApp::demo(tag)` builds a server on port 0 against a fresh database (SQLite,
//! or MariaDB with `.on(Db::MariaDb)`) and the in-process simulator; `on_both!` runs a test body
//! on both databases; `wait_for` and `eventually` await a condition instead of sleeping.

pub mod admin;
pub mod browser;
pub mod calls;
pub mod db;
pub mod mariadb;
pub mod oidc;
pub mod passkey;
pub mod redis;
pub mod rfb;
pub mod sio;
pub mod slapd;
pub mod swarm;
pub mod totp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use uma::app::App;
use uma::config::Config;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh database on the MariaDB server (`support::db`).
    MariaDb,
}

/// Runs each listed `async fn name(db: Db)` on SQLite and on MariaDB, as `name::sqlite` and
/// `name::mariadb`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name($crate::support::Db::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn mariadb() {
                    super::$name($crate::support::Db::MariaDb).await;
                }
            }
        )*
    };
}
pub(crate) use on_both;

/// How a test's server is set up: a demo cluster (the embedded simulator) unless told otherwise.
pub struct Build {
    dir: PathBuf,
    vars: HashMap<String, String>,
    db: Db,
    task_time: Option<Duration>,
}

impl Build {
    /// On `db`.
    pub fn on(mut self, db: Db) -> Self {
        self.db = db;
        self
    }

    /// With the setting `key=value`.
    pub fn var(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.insert(key.to_owned(), value.into());
        self
    }

    /// With these settings.
    pub fn vars(mut self, pairs: &[(&str, &str)]) -> Self {
        for (k, v) in pairs {
            self.vars.insert((*k).to_owned(), (*v).to_owned());
        }
        self
    }

    /// Proxmox tasks of the embedded simulator take `time` (a guest's lock is gone soon).
    pub fn tasks_take(mut self, time: Duration) -> Self {
        self.task_time = Some(time);
        self
    }

    /// Starts the server.
    pub async fn start(mut self) -> TestApp {
        if self.db == Db::MariaDb {
            let url = db::fresh_mysql_database().await;
            self.vars.insert("DATABASE_URL".into(), url);
        }
        let app = spawn_with(self.vars, self.dir).await;
        if let (Some(time), Some(sim)) = (self.task_time, app.sim.as_ref()) {
            sim.set_task_duration(time);
        }
        app
    }
}

/// A running server for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The server's shared state (its store, Proxmox client, signer).
    pub state: uma::state::AppState,
    /// The embedded simulator (demo mode).
    pub sim: Option<pve_sim::SimHandle>,
    database: uma::config::DatabaseConfig,
    audit: uma::audit::Audit,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// A demo-mode server (embedded simulator, SQLite, plain-HTTP cookies), its data in a fresh
    /// folder named after `tag`; `.start()` boots it.
    pub fn demo(tag: &str) -> Build {
        let dir = temp_dir(tag);
        let mut vars = demo_vars(&dir);
        vars.insert("USE_SECURE_COOKIE".into(), "false".into());
        Build {
            dir,
            vars,
            db: Db::Sqlite,
            task_time: None,
        }
    }

    /// Waits until the embedded simulator runs no task (what they change is then in place and
    /// the guests' locks are gone).
    pub async fn tasks_settled(&self) {
        let sim = self.sim.as_ref().expect("a demo-mode server");
        eventually(
            Duration::from_secs(20),
            "the simulator's tasks end",
            || async { sim.running_tasks() == 0 },
        )
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A separate connection to the server's database.
    pub async fn store(&self) -> uma::store::Store {
        uma::store::Store::connect(&self.database).await.unwrap()
    }

    /// A browser signed in as `username` with these groups, through a session written straight
    /// into the store (for authorization tests: sign-in itself is tested in `auth`). Returns the
    /// browser and its CSRF token.
    pub async fn session_as(
        &self,
        username: &str,
        groups: &[&str],
        is_admin: bool,
    ) -> (browser::Browser, String) {
        let now = uma::store::now_ms();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let csrf = uuid::Uuid::new_v4().simple().to_string();
        let record = uma::store::auth::SessionRecord {
            id: id.clone(),
            user_id: None,
            username: username.to_owned(),
            display_name: None,
            groups_json: serde_json::to_string(groups).unwrap(),
            is_admin,
            auth_source: "local".into(),
            csrf_token: csrf.clone(),
            ip_address: None,
            user_agent: None,
            created_at: now,
            last_seen_at: now,
            expires_at: now + 3_600_000,
            revoked_at: None,
            factor_at: None,
        };
        self.state.store.insert_session(&record).await.unwrap();
        let b = browser::Browser::new(&self.url(""));
        b.set_cookie(
            uma::auth::session::COOKIE,
            &self.state.signer.sign(uma::auth::session::COOKIE, &id),
        );
        (b, csrf)
    }

    /// The variables that point the `uma` command at this server's database (its data folder,
    /// and `DATABASE_URL` on MariaDB).
    pub fn cli_vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![(
            "UMA_DATA_DIR".to_owned(),
            self.state.config.server.data_dir.display().to_string(),
        )];
        if let uma::config::DatabaseConfig::MySql(url) = &self.database {
            vars.push(("DATABASE_URL".to_owned(), url.expose().to_owned()));
        }
        vars
    }

    /// Writes the queued audit rows now.
    pub async fn flush_audit(&self) {
        self.audit.flush().await;
    }

    /// The audit rows of `action` (newest first, up to 2000), after writing the queued ones.
    pub async fn audit_rows(&self, action: &str) -> Vec<uma::store::audit::AuditRow> {
        self.flush_audit().await;
        let store = self.store().await;
        let (rows, _) = store
            .search_audit(
                &uma::store::audit::AuditQuery {
                    action: Some(action.into()),
                    ..Default::default()
                },
                2000,
                0,
            )
            .await
            .unwrap();
        store.close().await;
        rows
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    /// Waits for the server to stop by itself, and gives what its run returned.
    pub async fn finished(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.expect("server task panicked"),
            None => Ok(()),
        }
    }

    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("server task panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A simulator the server under test does not start, as a real cluster would be.
pub async fn outside_sim() -> pve_sim::SimHandle {
    uma::tls::install_crypto_provider();
    pve_sim::Simulator::start(pve_sim::SimConfig::default())
        .await
        .unwrap()
}

/// The settings that point Uma at `sim` with its API token (certificate trust left to the caller).
pub fn sim_vars(sim: &pve_sim::SimHandle) -> [(&'static str, String); 3] {
    [
        ("PROXMOX_URL", sim.url().to_owned()),
        ("PROXMOX_TOKEN_ID", sim.token_id().to_owned()),
        ("PROXMOX_TOKEN_SECRET", sim.token_secret().to_owned()),
    ]
}

/// A fresh temporary folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "uma-test-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Variables for a demo-mode server on port 0 with its data in `data_dir`.
pub fn demo_vars(data_dir: &std::path::Path) -> HashMap<String, String> {
    [
        ("HOSTNAME", "127.0.0.1"),
        ("PORT", "0"),
        ("UMA_DATA_DIR", data_dir.to_str().unwrap()),
        ("LOG_LEVEL", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Boots a server with these variables.
pub async fn spawn_with(vars: HashMap<String, String>, _data_dir: PathBuf) -> TestApp {
    uma::tls::install_crypto_provider();
    let config = Config::from_vars(&vars).expect("test configuration is valid");
    let app = App::build(config).await.expect("server builds");
    let addr = app.local_addr();
    let database = app.state().config.database.clone();
    let audit = app.state().audit.clone();
    let state = app.state().clone();
    let sim = app.simulator().cloned();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        state,
        sim,
        database,
        audit,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        stop: Some(tx),
        task: Some(task),
    }
}

/// Runs the `uma` command (a separate process, as an operator would) with only `vars` and
/// `stdin`; returns its exit code, standard output and standard error.
pub fn run_uma(
    args: &[&str],
    vars: &[(String, String)],
    stdin: Option<&str>,
) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = temp_dir("cli");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uma"));
    cmd.args(args)
        .current_dir(&dir)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run uma");
    if let Some(mut input) = child.stdin.take() {
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().expect("uma finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the `uma` command in `dir` (its data in `dir/data`) with only these variables; returns
/// its exit code, standard output and standard error.
pub fn run_uma_in(
    dir: &std::path::Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_uma"));
    cmd.args(args).current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("UMA_DATA_DIR", dir.join("data"));
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

/// Polls `check` until it holds, failing with `what` after `within`.
pub async fn eventually<F, Fut>(within: std::time::Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `f` until it gives a value; fails after 10 s.
pub async fn wait_for<F, Fut, V>(f: F) -> V
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<V>>,
{
    wait_until(Duration::from_secs(10), "condition", f).await
}

/// Polls `f` until it gives a value, failing with `what` after `within`.
pub async fn wait_until<F, Fut, V>(within: Duration, what: &str, mut f: F) -> V
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<V>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not met within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Boots a demo-mode server (embedded simulator, SQLite in a fresh folder).
pub async fn spawn_app() -> TestApp {
    let dir = temp_dir("app");
    spawn_with(demo_vars(&dir), dir).await
}
