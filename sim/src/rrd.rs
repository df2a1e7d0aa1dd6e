//! Plausible, deterministic metrics: current guest/node usage and `rrddata` series with PVE 9's
//! resolutions (hour 60 s × 60, day 60 s × 1440, week 30 min × 336, month 30 min × 1440,
//! year 6 h × 1440, decade 1 week × 570). Values move smoothly over time and differ per guest.

use serde_json::{json, Map, Value};

use crate::model::{Guest, Kind, Node};

/// Current usage of a guest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuestStats {
    pub cpu: f64,
    pub mem: u64,
    pub disk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    pub uptime: i64,
}

/// A smooth pseudo-random wave in 0..1 for (seed, time).
pub(crate) fn wave(seed: u64, t: f64) -> f64 {
    let s = (seed % 997) as f64;
    let a = (t / 900.0 + s).sin() * 0.5 + (t / 3700.0 + s * 1.7).sin() * 0.3;
    let noise = ((t / 60.0).floor() * 12.9898 + s * 78.233).sin() * 43_758.545;
    let noise = noise - noise.floor();
    ((a + 0.8) / 1.6 * 0.85 + noise * 0.15).clamp(0.0, 1.0)
}

/// Guest usage at `now` (seconds); zero when stopped.
pub(crate) fn guest_now(g: &Guest, now: i64) -> GuestStats {
    let running = g.is_running();
    let uptime = g.started_at.map_or(0, |s| (now - s).max(0));
    let seed = u64::from(g.vmid);
    let t = now as f64;
    let w = wave(seed, t);
    let maxmem = g.maxmem();
    let maxdisk = g.maxdisk();
    let up = uptime.max(1) as f64;
    let disk = if g.kind == Kind::Lxc {
        (maxdisk as f64 * (0.2 + 0.3 * wave(seed + 7, 0.0))) as u64
    } else {
        0
    };
    if !running {
        return GuestStats {
            cpu: 0.0,
            mem: 0,
            disk,
            netin: 0,
            netout: 0,
            diskread: 0,
            diskwrite: 0,
            uptime: 0,
        };
    }
    GuestStats {
        cpu: (w * 0.6 * 1000.0).round() / 1000.0,
        mem: (maxmem as f64 * (0.25 + 0.5 * w)) as u64,
        disk,
        netin: (up * (2_000.0 + 50_000.0 * w)) as u64,
        netout: (up * (1_000.0 + 20_000.0 * w)) as u64,
        diskread: (up * (4_000.0 + 90_000.0 * w)) as u64,
        diskwrite: (up * (3_000.0 + 60_000.0 * w)) as u64,
        uptime,
    }
}

/// (resolution seconds, points) for a timeframe.
pub(crate) fn resolution(timeframe: &str) -> (i64, i64) {
    match timeframe {
        "hour" => (60, 60),
        "day" => (60, 1440),
        "week" => (1800, 336),
        "month" => (1800, 1440),
        "year" => (21_600, 1440),
        _ => (604_800, 570),
    }
}

fn times(timeframe: &str, now: i64) -> impl Iterator<Item = i64> {
    let (res, points) = resolution(timeframe);
    // the newest complete bucket; the one still filling is not returned
    let last = now - now.rem_euclid(res) - res;
    (0..points).map(move |i| last - (points - 1 - i) * res)
}

fn round(v: f64) -> Value {
    json!((v * 1000.0).round() / 1000.0)
}

/// `rrddata` for a guest: usage is zero for stopped guests and, for running ones, before the day
/// preceding their start (a plausible history); MAX is a little higher than AVERAGE.
pub(crate) fn guest_series(g: &Guest, timeframe: &str, cf_max: bool, now: i64) -> Vec<Value> {
    let seed = u64::from(g.vmid);
    let boost = if cf_max { 1.25 } else { 1.0 };
    let maxmem = g.maxmem() as f64;
    let maxdisk = g.maxdisk() as f64;
    let running_since = g.started_at;
    let out: Vec<Value> = times(timeframe, now)
        .map(|t| {
            let mut m = Map::new();
            m.insert("time".into(), json!(t));
            let alive = running_since.is_some_and(|s| t >= s - 86_400);
            let w = (wave(seed, t as f64) * boost).min(1.0);
            let on = if alive { 1.0 } else { 0.0 };
            m.insert("maxcpu".into(), json!(g.cpus()));
            m.insert("cpu".into(), round(on * w * 0.6));
            m.insert("maxmem".into(), json!(maxmem as u64));
            m.insert("mem".into(), round(on * maxmem * (0.25 + 0.5 * w)));
            m.insert("maxdisk".into(), json!(maxdisk as u64));
            m.insert("disk".into(), round(maxdisk * 0.3));
            m.insert("netin".into(), round(on * (2_000.0 + 50_000.0 * w)));
            m.insert("netout".into(), round(on * (1_000.0 + 20_000.0 * w)));
            m.insert("diskread".into(), round(on * (4_000.0 + 90_000.0 * w)));
            m.insert("diskwrite".into(), round(on * (3_000.0 + 60_000.0 * w)));
            if g.kind == Kind::Qemu {
                m.insert("memhost".into(), round(on * maxmem * (0.3 + 0.5 * w)));
            }
            m.insert("pressurecpusome".into(), round(on * w * 0.05));
            m.insert("pressurememorysome".into(), round(0.0));
            m.insert("pressureiosome".into(), round(on * w * 0.02));
            Value::Object(m)
        })
        .collect();
    out
}

/// Current node usage as a 0..1 fraction plus memory bytes used.
pub(crate) fn node_now(n: &Node, now: i64) -> (f64, u64) {
    let w = wave(n.seed, now as f64);
    let cpu = (w * 0.5 * 1000.0).round() / 1000.0;
    (cpu, (n.mem_total as f64 * (0.3 + 0.4 * w)) as u64)
}

/// `rrddata` for a node.
pub(crate) fn node_series(n: &Node, timeframe: &str, cf_max: bool, now: i64) -> Vec<Value> {
    let boost = if cf_max { 1.25 } else { 1.0 };
    let out: Vec<Value> = times(timeframe, now)
        .map(|t| {
            let w = (wave(n.seed, t as f64) * boost).min(1.0);
            let mem_used = n.mem_total as f64 * (0.3 + 0.4 * w);
            json!({
                "time": t,
                "cpu": (w * 0.5 * 1000.0).round() / 1000.0,
                "iowait": (w * 0.02 * 1000.0).round() / 1000.0,
                "loadavg": (w * f64::from(n.cpus) * 0.6 * 100.0).round() / 100.0,
                "maxcpu": n.cpus,
                "memtotal": n.mem_total,
                "memused": mem_used as u64,
                "memavailable": (n.mem_total as f64 - mem_used) as u64,
                "swaptotal": 8u64 << 30,
                "swapused": (w * 200.0 * 1_048_576.0) as u64,
                "roottotal": n.root_total,
                "rootused": (n.root_total as f64 * 0.21) as u64,
                "netin": (10_000.0 + 400_000.0 * w).round(),
                "netout": (8_000.0 + 300_000.0 * w).round(),
                "arcsize": 0,
                "pressurecpusome": (w * 0.04 * 1000.0).round() / 1000.0,
                "pressureiosome": (w * 0.01 * 1000.0).round() / 1000.0,
                "pressurememorysome": 0.0,
            })
        })
        .collect();
    out
}
