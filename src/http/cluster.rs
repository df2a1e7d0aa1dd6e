//! Cluster-wide reads: `GET /api/proxmox/resources`, filtered by the ACL engine so a user only
//! ever receives the pools, guests and storages they may see.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::acl::{self, Engine, GuestAction, Naming, Principal};
use crate::audit::{Actor, Status};
use crate::auth::session::CurrentSession;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::client::ClientInfo;
use crate::pve::models::Resource;
use crate::state::AppState;

/// Cluster routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/proxmox/resources", get(resources))
}

/// The engine's view of a session.
pub fn principal(s: &CurrentSession) -> Principal {
    Principal {
        username: s.record.username.clone(),
        groups: s.groups.clone(),
        is_admin: s.record.is_admin,
    }
}

/// Name rules from the configuration.
pub fn naming(state: &AppState) -> Naming {
    Naming {
        realm: state.config.proxmox_user_realm.clone(),
    }
}

/// The audit actor of a request.
pub fn actor(s: &CurrentSession, client: &ClientInfo) -> Actor {
    Actor {
        username: s.record.username.clone(),
        ip: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
    }
}

/// `?type=` of the resource list.
#[derive(Debug, Deserialize)]
pub struct ResourcesQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Keeps what `p` may see.
pub fn visible(
    engine: &Engine,
    p: &Principal,
    public_storages: &[String],
    items: Vec<Resource>,
) -> Vec<Resource> {
    if engine.effective_admin(p) {
        return items;
    }
    items
        .into_iter()
        .filter(|r| match r.kind.as_str() {
            "qemu" | "lxc" => r
                .vmid
                .is_some_and(|id| engine.guest_allows(p, id, GuestAction::View)),
            "pool" => r
                .pool
                .as_deref()
                .is_some_and(|id| engine.pool_access(p, id).see),
            "storage" => r.storage.as_deref().is_some_and(|id| {
                public_storages.iter().any(|s| s == id) || {
                    let privs = engine.privileges(p, &format!("/storage/{id}"));
                    privs.contains("Datastore.Audit") || privs.contains("Datastore.AllocateSpace")
                }
            }),
            _ => false,
        })
        .collect()
}

async fn resources(
    State(state): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Query(q): Query<ResourcesQuery>,
) -> AppResult<Json<Value>> {
    let kinds: &[&str] = match q.kind.as_deref() {
        None | Some("") => &[],
        Some("vm") => &["qemu", "lxc"],
        Some("storage") => &["storage"],
        Some("node") => &["node"],
        Some("pool") => &["pool"],
        Some("sdn") => &["sdn"],
        Some(other) => {
            return Err(AppError::with_message(
                ErrorCode::InvalidInput,
                format!("Unknown resource type '{other}': use vm, storage, node, pool or sdn"),
            ))
        }
    };
    let (snapshot, items) = acl::load::snapshot(&state.pve).await?;
    let engine = Engine::new(snapshot, naming(&state));
    let p = principal(&session);
    let items: Vec<Resource> = items
        .into_iter()
        .filter(|r| kinds.is_empty() || kinds.contains(&r.kind.as_str()))
        .collect();
    let items = visible(&engine, &p, &state.config.allowed_public_storages, items);
    state.audit.record(
        &actor(&session, &client),
        "VIEW_RESOURCES",
        "cluster:resources",
        Status::Success,
        json!({ "type": q.kind, "count": items.len() }),
    );
    Ok(Json(json!({ "data": items })))
}
