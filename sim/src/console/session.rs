//! One connected console: the upgraded connection carries WebSocket frames whose payload is the
//! RFB stream. The session redraws the clock every second, checks that its task and guest are
//! still there, and ends the `vncproxy` task when either side closes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::rfb::{Flavour, RfbConfig, RfbServer};
use super::screen::{clock_text, ConsoleScreen};
use super::websocket::{encode_frame, parse_frame, Frame, MAX_PAYLOAD};
use super::{Claimed, Control};
use crate::model::{now_millis, now_secs, Kind};
use crate::SimState;

/// How the task ends: extra log lines and the result.
struct Outcome {
    log: Vec<String>,
    result: Result<(), String>,
}

impl Outcome {
    fn ok() -> Self {
        Self {
            log: Vec::new(),
            result: Ok(()),
        }
    }
}

/// Runs a console once hyper hands over the connection, then ends its task.
pub(crate) async fn serve(state: Arc<SimState>, mut claimed: Claimed, on_upgrade: OnUpgrade) {
    let outcome = match on_upgrade.await {
        Ok(upgraded) => run(&state, &mut claimed, TokioIo::new(upgraded)).await,
        Err(err) => {
            tracing::debug!(%err, "pve-sim: websocket upgrade failed");
            Outcome::ok()
        }
    };
    let mut c = state.cluster.lock();
    c.release_console(&claimed.upid, outcome.log, outcome.result);
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    for chunk in data.chunks(MAX_PAYLOAD) {
        w.write_all(&encode_frame(2, chunk)).await?;
    }
    w.flush().await
}

/// Whether the session may go on; advances tasks like any request does.
fn alive(state: &SimState, claimed: &Claimed) -> bool {
    let mut c = state.cluster.lock();
    if c.tick() {
        if let Some(path) = &state.state_file {
            state.persist(path, &c);
        }
    }
    c.console_alive(claimed)
}

/// The first tick lands on the next whole second so the clock changes on time.
fn next_second() -> tokio::time::Instant {
    let ms = u64::try_from(now_millis().rem_euclid(1000)).unwrap_or(0);
    tokio::time::Instant::now() + Duration::from_millis(1000 - ms)
}

async fn run<S: AsyncRead + AsyncWrite>(state: &SimState, claimed: &mut Claimed, io: S) -> Outcome {
    let (mut rd, mut wr) = tokio::io::split(io);
    if claimed.kind == Kind::Qemu && !claimed.running {
        // `qm vncproxy` dies before a byte is sent; pveproxy drops the connection
        let _ = wr.shutdown().await;
        return Outcome {
            log: vec![format!("VM {} not running", claimed.vmid)],
            result: Err("Failed to run vncproxy.".to_owned()),
        };
    }
    let mut screen = ConsoleScreen::new(&claimed.name);
    (screen.width, screen.height) = claimed.size;
    let mut rfb = RfbServer::new(RfbConfig {
        flavour: match claimed.kind {
            Kind::Qemu => Flavour::Qemu,
            Kind::Lxc => Flavour::Vncterm,
        },
        password: claimed.password.clone(),
        desktop_name: claimed.desktop_name.clone(),
        screen,
        challenge: rand::thread_rng().gen(),
        now: Instant::now(),
        clock: clock_text(now_secs()),
    });
    if send(&mut wr, RfbServer::greeting()).await.is_err() {
        return Outcome::ok();
    }
    let mut ticker = tokio::time::interval_at(next_second(), Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut inbuf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    'session: loop {
        tokio::select! {
            read = rd.read(&mut chunk) => {
                let n = match read {
                    Ok(0) | Err(_) => break 'session,
                    Ok(n) => n,
                };
                inbuf.extend_from_slice(&chunk[..n]);
                loop {
                    let frame = match parse_frame(&mut inbuf) {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(why) => {
                            tracing::debug!(why, "pve-sim: websocket protocol error");
                            break 'session;
                        }
                    };
                    match frame {
                        Frame::Data(data) => {
                            let step = rfb.feed(&data, Instant::now());
                            if send(&mut wr, &step.out).await.is_err() || step.close {
                                break 'session;
                            }
                        }
                        Frame::Ping(payload) => {
                            let pong = encode_frame(10, &payload);
                            if wr.write_all(&pong).await.is_err() {
                                break 'session;
                            }
                        }
                        Frame::Pong => {}
                        Frame::Close => break 'session,
                    }
                }
            }
            _ = ticker.tick() => {
                if !alive(state, claimed) {
                    break 'session;
                }
                let out = rfb.tick(&clock_text(now_secs()));
                if send(&mut wr, &out).await.is_err() {
                    break 'session;
                }
            }
            Some(control) = claimed.control.recv() => {
                let out = match control {
                    Control::Resize(w, h) => rfb.resize(w, h),
                };
                if send(&mut wr, &out).await.is_err() {
                    break 'session;
                }
            }
        }
    }
    let _ = wr.shutdown().await;
    Outcome::ok()
}
