//! A throwaway Redis server of the test's own (a free loopback port, nothing on disk), for tests
//! that stop and restart it. Needs Debian's `redis-server`; a missing one fails the test.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
    /// Where it keeps its data across restarts (`start_persistent`).
    dir: Option<std::path::PathBuf>,
}

impl OwnRedis {
    pub async fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = OwnRedis {
            port,
            child: None,
            dir: None,
        };
        r.run().await;
        r
    }

    /// A Redis that keeps its keys across [`OwnRedis::shutdown_saving`] and [`OwnRedis::run`],
    /// as a production Redis with persistence does.
    pub async fn start_persistent() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = OwnRedis {
            port,
            child: None,
            dir: Some(super::temp_dir("redis")),
        };
        r.run().await;
        r
    }

    /// Saves its keys and stops (a persistent Redis restarting).
    pub fn shutdown_saving(&mut self) {
        let _ = self.cli(&["SHUTDOWN", "SAVE"]);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and waits until it answers.
    pub async fn run(&mut self) {
        let mut args: Vec<String> = [
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if let Some(dir) = &self.dir {
            args.extend(["--dir".to_owned(), dir.display().to_string()]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("this test runs its own Redis and needs `redis-server` ({e}): apt-get install redis-server")
            });
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "own Redis did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs a command with `redis-cli` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
