//! Drives `uma-swarm` (bench/swarm): many real Socket.IO clients of the `rust_socketio` crate in a
//! child process, reporting what they receive as JSON lines.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

pub struct Swarm {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Value>,
}

/// Milliseconds since the Unix epoch, the clock of the swarm's `at` stamps.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("UMA_SWARM") {
        return p.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("debug").join("uma-swarm")
}

impl Swarm {
    /// Starts the swarm with `config` (see bench/swarm/src/main.rs for the format).
    pub async fn start(dir: &std::path::Path, config: &Value) -> Swarm {
        let bin = binary();
        assert!(
            bin.exists(),
            "{} is missing: build the Socket.IO load client with `make swarm` (`make test` does), \
             or point UMA_SWARM at it",
            bin.display()
        );
        let path = dir.join("swarm.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let mut child = tokio::process::Command::new(&bin)
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("uma-swarm wrote {line:?}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Swarm {
            child,
            stdin,
            lines,
        }
    }

    /// The next line, or None when `wait` passes first (or the swarm ended).
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.lines.recv())
            .await
            .ok()
            .flatten()
    }

    /// Closes the swarm's stdin, which disconnects every client, and waits for it to end.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("uma-swarm did not end after its stdin closed")
            .unwrap();
        assert!(status.success(), "uma-swarm: {status}");
    }
}
