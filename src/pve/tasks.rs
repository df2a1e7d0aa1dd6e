//! Proxmox tasks: their status (`GET …/tasks/{upid}/status`) and the progress a log line reports.

use serde::{Deserialize, Serialize};

/// Whether a task still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Still running.
    Running,
    /// Ended (see the exit status).
    Stopped,
}

impl TaskState {
    /// Both states.
    pub const ALL: [Self; 2] = [Self::Running, Self::Stopped];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
        }
    }
}

/// `GET …/tasks/{upid}/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskStatus {
    /// Running or stopped.
    pub status: TaskState,
    /// `OK`, `WARNINGS: n` or the error, once stopped.
    #[serde(default)]
    pub exitstatus: Option<String>,
    /// Task type.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `… (42%)` or `… 42% …` in a log line.
pub fn percent(line: &str) -> Option<u32> {
    let idx = line.rfind('%')?;
    let digits: String = line[..idx]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    let n: f64 = digits.parse().ok()?;
    (0.0..=100.0).contains(&n).then_some(n as u32)
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn progress_from_log_lines() {
        assert_eq!(percent("transferred 1.0 GiB of 4.0 GiB (25.00%)"), Some(25));
        assert_eq!(percent("INFO:  42% (1.2 GiB of 3 GiB)"), Some(42));
        assert_eq!(percent("starting"), None);
    }
}
