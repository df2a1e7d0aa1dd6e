//! `GET /healthz` (the process answers) and `GET /readyz` (database, Redis when configured,
//! Proxmox and the actor tree, each with its own result).

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::state::AppState;

/// Health routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// One readiness check's result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// `ok`, `error` or `disabled`.
    pub status: &'static str,
    /// Round-trip time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// What failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Extra facts (backend, version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

async fn timed<T, E: std::fmt::Display>(
    fut: impl std::future::Future<Output = Result<T, E>>,
    detail: impl FnOnce(&T) -> Option<String>,
) -> Check {
    let start = Instant::now();
    let res = tokio::time::timeout(CHECK_TIMEOUT, fut).await;
    let latency_ms = Some(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
    match res {
        Ok(Ok(v)) => Check {
            status: "ok",
            latency_ms,
            error: None,
            detail: detail(&v),
        },
        Ok(Err(e)) => Check {
            status: "error",
            latency_ms,
            error: Some(e.to_string()),
            detail: None,
        },
        Err(_) => Check {
            status: "error",
            latency_ms,
            error: Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            detail: None,
        },
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    let backend = format!("{:?}", state.store.backend()).to_lowercase();
    let (database, proxmox, redis) = tokio::join!(
        timed(state.store.ping(), |_| Some(backend.clone())),
        timed(state.pve.version(), |v| Some(format!(
            "Proxmox VE {}",
            v.version
        ))),
        async {
            match &state.redis {
                Some(client) => {
                    use fred::interfaces::ClientLike;
                    timed(client.ping::<String>(None), |_| None).await
                }
                None => Check {
                    status: "disabled",
                    latency_ms: None,
                    error: None,
                    detail: Some("in-process limits (REDIS_URL unset)".to_owned()),
                },
            }
        }
    );
    let actors = {
        let root = state.root.clone();
        // A branch the root gave up restarting makes the instance unready.
        timed(
            async move {
                let h = uma_actors::call!(root, uma_actors::root::RootMsg::Health)
                    .map_err(|e| e.to_string())?;
                if h.down.is_empty() {
                    Ok(h)
                } else {
                    Err(format!("down: {}", h.down.join(", ")))
                }
            },
            |h| {
                Some(format!(
                    "{} children, {} failures, {} restarts",
                    h.children, h.failures, h.restarts
                ))
            },
        )
        .await
    };
    let ready = [&database, &proxmox, &redis, &actors]
        .iter()
        .all(|c| c.status != "error");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "uptimeSecs": state.started.elapsed().as_secs(),
            "checks": { "database": database, "proxmox": proxmox, "redis": redis, "actors": actors },
        })),
    )
        .into_response()
}
