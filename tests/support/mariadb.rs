//! A throwaway MariaDB server of the test's own (data folder in a temp dir, a free loopback
//! port), for tests that stop and restart the database. Needs Debian's `mariadb-server`
//! (`mariadbd`, `mariadb-install-db`); a missing one fails the test with instructions.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::Connection;

pub struct OwnMariaDb {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl OwnMariaDb {
    pub async fn start() -> OwnMariaDb {
        let dir = super::temp_dir("mariadb");
        let install = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                &format!("--datadir={}", dir.join("data").display()),
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "this test runs its own MariaDB and needs `mariadb-install-db` ({e}).\n\
                     Install Debian's mariadb-server (`make services` does, or `apt-get install mariadb-server`)."
                )
            });
        assert!(
            install.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let mut db = OwnMariaDb {
            dir,
            port: free_port(),
            child: None,
        };
        db.run().await;
        db
    }

    /// The server URL without a database.
    pub fn server_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Creates a database as Uma wants it and returns its URL.
    pub async fn database(&self, name: &str) -> String {
        let mut conn = sqlx::MySqlConnection::connect(&self.server_url())
            .await
            .unwrap();
        sqlx::query(&format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_nopad_as_cs"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        format!("{}/{name}", self.server_url())
    }

    /// Starts the server (again) on the same data and port, and waits until it answers.
    pub async fn run(&mut self) {
        let child = Command::new("/usr/sbin/mariadbd")
            .args([
                "--no-defaults".to_owned(),
                format!("--datadir={}", self.dir.join("data").display()),
                "--user=root".to_owned(),
                format!("--port={}", self.port),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--socket={}", self.dir.join("sock").display()),
                format!("--pid-file={}", self.dir.join("pid").display()),
                "--skip-log-bin".to_owned(),
                "--innodb-buffer-pool-size=16M".to_owned(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start /usr/sbin/mariadbd ({e}); install Debian's mariadb-server")
            });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if sqlx::MySqlConnection::connect(&self.server_url())
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "own MariaDB did not start on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
