//! `pve-sim` binary: serves a simulated Proxmox VE cluster until interrupted.

use std::net::SocketAddr;

use clap::Parser;
use pve_sim::{Scenario, SimConfig, Simulator};

/// A Proxmox VE API simulator.
#[derive(Debug, Parser)]
#[command(name = "pve-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8006")]
    listen: SocketAddr,
    /// Initial cluster: demo, empty or scale.
    #[arg(long, default_value = "demo")]
    scenario: Scenario,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// API token id (`USER@REALM!TOKENID`).
    #[arg(long, default_value = "root@pam!uma")]
    token_id: String,
    /// API token secret (random when absent).
    #[arg(long, env = "PVE_SIM_TOKEN_SECRET")]
    token_secret: Option<String>,
    /// Duration of worker tasks in milliseconds.
    #[arg(long, default_value_t = 1500)]
    task_ms: u64,
    /// Load the cluster from this JSON file (when it exists) and save every change to it.
    #[arg(long)]
    state_file: Option<std::path::PathBuf>,
    /// Delay of 401 answers in milliseconds (Proxmox waits 3 s).
    #[arg(long, default_value_t = 3000)]
    auth_delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let handle = Simulator::start(SimConfig {
        listen: args.listen,
        tls: !args.plain_http,
        scenario: args.scenario,
        token_id: args.token_id,
        token_secret: args.token_secret,
        task_duration: std::time::Duration::from_millis(args.task_ms),
        faults: pve_sim::Faults::default(),
        auth_failure_delay: std::time::Duration::from_millis(args.auth_delay_ms),
        state_file: args.state_file,
    })
    .await?;
    println!("pve-sim listening on {}", handle.url());
    println!("Authorization: {}", handle.authorization());
    for t in handle.tokens() {
        if t.token_id != handle.token_id() {
            println!("  other token: {}", t.authorization());
        }
    }
    println!(
        "try: curl -k -H 'Authorization: {}' {}/api2/json/cluster/resources",
        handle.authorization(),
        handle.url()
    );
    tokio::signal::ctrl_c().await?;
    handle.shutdown();
    Ok(())
}
