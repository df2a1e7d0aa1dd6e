//! Worker tasks: real UPIDs, a configurable duration, an effect applied to the cluster only when
//! the task ends, `TASK OK` / `TASK ERROR: …` log lines. Tasks advance lazily: every request first
//! calls [`Cluster::tick`], so no background timers are needed.

use std::fmt;

use serde_json::{json, Value};

use crate::acl::Auth;
use crate::model::{now_millis, Cluster};

/// What a task does to the cluster when it ends; `Err` is the task's error text.
pub(crate) type Effect = Box<dyn FnOnce(&mut Cluster) -> Result<(), String> + Send + Sync>;

/// A worker task.
pub(crate) struct Task {
    pub upid: String,
    pub node: String,
    pub pid: u32,
    pub pstart: u32,
    pub starttime: i64,
    pub ty: String,
    pub id: String,
    pub user: String,
    pub ends_at_ms: i64,
    pub endtime: Option<i64>,
    pub exitstatus: Option<String>,
    pub log: Vec<String>,
    effect: Option<Effect>,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("upid", &self.upid)
            .field("exitstatus", &self.exitstatus)
            .finish_non_exhaustive()
    }
}

impl Task {
    /// Records the end: `TASK OK`, or the error line and `TASK ERROR: …`.
    fn finish(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.log.push("TASK OK".to_owned());
                self.exitstatus = Some("OK".to_owned());
            }
            Err(msg) => {
                self.log.push(msg.clone());
                self.log.push(format!("TASK ERROR: {msg}"));
                self.exitstatus = Some(msg);
            }
        }
    }

    /// `running` or `stopped`.
    pub fn state(&self) -> &'static str {
        if self.exitstatus.is_some() {
            "stopped"
        } else {
            "running"
        }
    }

    /// The `/tasks/{upid}/status` object.
    pub fn status_json(&self) -> Value {
        let mut v = json!({
            "upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
            "starttime": self.starttime, "type": self.ty, "id": self.id, "user": self.user,
            "status": self.state(),
        });
        if let Some(exit) = &self.exitstatus {
            v["exitstatus"] = json!(exit);
        }
        v
    }

    /// A `/nodes/{node}/tasks` list item (`status` RUNNING while active).
    pub fn list_json(&self) -> Value {
        let (user, tokenid) = match self.user.split_once('!') {
            Some((u, t)) => (u.to_owned(), Some(t.to_owned())),
            None => (self.user.clone(), None),
        };
        let mut v = json!({
            "upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
            "starttime": self.starttime, "type": self.ty, "id": self.id, "user": user,
            "status": self.exitstatus.clone().unwrap_or_else(|| "RUNNING".to_owned()),
        });
        if let Some(t) = tokenid {
            v["tokenid"] = json!(t);
        }
        if let Some(end) = self.endtime {
            v["endtime"] = json!(end);
        }
        v
    }
}

impl Cluster {
    /// Starts a task on `node`; `effect` runs when `duration_ms` has passed.
    #[allow(clippy::too_many_arguments)] // mirrors fork_worker(type, id, user, …)
    pub fn spawn_task(
        &mut self,
        node: &str,
        ty: &str,
        id: &str,
        auth: &Auth,
        duration_ms: i64,
        log: Vec<String>,
        effect: Effect,
    ) -> String {
        let now = now_millis();
        self.next_pid = self.next_pid.wrapping_add(1).max(1000);
        let pid = self.next_pid;
        let starttime = now / 1000;
        let pstart = self
            .nodes
            .get(node)
            .map_or(1, |n| ((starttime - n.boot_time).max(1) * 100) as u32);
        let user = auth.task_user().to_owned();
        let upid = format!(
            "UPID:{node}:{pid:08X}:{pstart:08X}:{:08X}:{ty}:{id}:{user}:",
            starttime as u32
        );
        self.tasks.push(Task {
            upid: upid.clone(),
            node: node.to_owned(),
            pid,
            pstart,
            starttime,
            ty: ty.to_owned(),
            id: id.to_owned(),
            user,
            ends_at_ms: now + duration_ms.max(0),
            endtime: None,
            exitstatus: None,
            log,
            effect: Some(effect),
        });
        if self.tasks.len() > 5000 {
            let drop = self.tasks.len() - 5000;
            let mut removed = 0;
            self.tasks.retain(|t| {
                let keep = removed >= drop || t.exitstatus.is_none();
                if !keep {
                    removed += 1;
                }
                keep
            });
        }
        upid
    }

    /// Finishes every task whose time has come, in end-time order, applying its effect.
    /// Returns whether any task ended.
    pub fn tick(&mut self) -> bool {
        let now = now_millis();
        let mut due: Vec<(i64, usize)> = self
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.exitstatus.is_none() && t.ends_at_ms <= now)
            .map(|(i, t)| (t.ends_at_ms, i))
            .collect();
        due.sort_unstable();
        let ended = !due.is_empty();
        for (_, i) in due {
            let Some(effect) = self.tasks.get_mut(i).and_then(|t| t.effect.take()) else {
                continue;
            };
            let result = effect(self);
            if let Some(task) = self.tasks.get_mut(i) {
                task.endtime = Some(task.ends_at_ms / 1000);
                task.finish(result);
            }
        }
        ended
    }

    /// Keeps a running task running until [`Cluster::end_task`] (its timer and effect are
    /// dropped): a console proxy that got its connection.
    pub fn hold_task(&mut self, upid: &str) {
        if let Some(t) = self
            .tasks
            .iter_mut()
            .find(|t| t.upid == upid && t.exitstatus.is_none())
        {
            t.ends_at_ms = i64::MAX;
            t.effect = Some(Box::new(|_| Ok(())));
        }
    }

    /// Ends a running task now with `result`, after appending `log`; its effect is dropped.
    pub fn end_task(&mut self, upid: &str, log: Vec<String>, result: Result<(), String>) {
        if let Some(t) = self
            .tasks
            .iter_mut()
            .find(|t| t.upid == upid && t.exitstatus.is_none())
        {
            t.effect = None;
            t.endtime = Some(now_millis() / 1000);
            t.log.extend(log);
            t.finish(result);
        }
    }

    /// The task with this UPID.
    pub fn task(&self, upid: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.upid == upid)
    }

    /// Stops a running task: its effect is dropped, it ends "interrupted by signal".
    pub fn interrupt_task(&mut self, upid: &str) {
        if let Some(t) = self
            .tasks
            .iter_mut()
            .find(|t| t.upid == upid && t.exitstatus.is_none())
        {
            t.effect = None;
            t.endtime = Some(now_millis() / 1000);
            t.log.push("received interrupt".to_owned());
            t.log.push("TASK ERROR: interrupted by signal".to_owned());
            t.exitstatus = Some("interrupted by signal".to_owned());
        }
    }
}
