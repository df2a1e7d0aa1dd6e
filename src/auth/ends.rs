//! What follows the end of a sign-in session on this instance: its consoles close with a reason
//! the browser shows, an expiry is audited, and the periodic re-check reads the records of every
//! session this instance holds sockets or consoles for, so that ends it was not told about (the
//! `uma` command, an instance without Redis) take effect within `SESSION_RECHECK_SECS`.

use std::collections::BTreeSet;

use ractor::ActorRef;
use uma_actors::consoles::ConsolesMsg;
use uma_actors::root::Slot;
use uma_actors::sessions::{EndReason, SessionEvents, SessionIdentity, SessionMsg, SessionsMsg};

use crate::audit::Audit;
use crate::audit::AuditAction;
use crate::auth::session::CurrentSession;
use crate::store::{now_ms, Store};

/// What a console's browser is told when the session it was opened in ends.
pub fn console_reason(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Logout => "You signed out, so this console was closed.",
        EndReason::Revoked => "Your session was revoked, so this console was closed.",
        EndReason::Expired => "Your session expired, so this console was closed. Sign in again.",
    }
}

/// The server's [`SessionEvents`].
pub struct SessionHooks {
    audit: Audit,
    store: Store,
    consoles: Slot<ConsolesMsg>,
}

impl SessionHooks {
    /// Hooks that audit through `audit`, read `store` and close `consoles`.
    pub fn new(audit: Audit, store: Store, consoles: Slot<ConsolesMsg>) -> Self {
        Self {
            audit,
            store,
            consoles,
        }
    }

    fn audit_expiry(audit: &Audit, username: &str) {
        audit.record(
            &crate::audit::Actor {
                username: username.to_owned(),
                ..Default::default()
            },
            AuditAction::SessionExpired,
            "auth:session",
            crate::audit::Status::Success,
            serde_json::json!({}),
        );
    }
}

impl SessionEvents for SessionHooks {
    fn expired(&self, identity: &SessionIdentity) {
        Self::audit_expiry(&self.audit, &identity.username);
    }

    fn ended(&self, session_id: &str, reason: EndReason) {
        let _ = self.consoles.cast(ConsolesMsg::CloseSession(
            session_id.to_owned(),
            console_reason(reason).to_owned(),
        ));
    }

    fn expiring(&self, identity: &SessionIdentity, actor: ActorRef<SessionMsg>) {
        let store = self.store.clone();
        let consoles = self.consoles.clone();
        let id = identity.session_id.clone();
        tokio::spawn(async move {
            let answer = match crate::auth::tokens::any_session(&store, &id, now_ms()).await {
                // Activity moved the expiry: wait for the new one.
                Ok(Some(r)) if CurrentSession::is_live(&r, now_ms()) => {
                    SessionMsg::ExpiresAt(r.expires_at)
                }
                Ok(Some(r)) if r.revoked_at.is_none() => SessionMsg::Expired,
                Ok(_) => {
                    let _ = consoles.cast(ConsolesMsg::CloseSession(
                        id.clone(),
                        console_reason(EndReason::Revoked).to_owned(),
                    ));
                    SessionMsg::End(EndReason::Revoked)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "session expiry check postponed: the store is unavailable");
                    SessionMsg::ExpiresAt(now_ms() + 5_000)
                }
            };
            let _ = actor.cast(answer);
        });
    }

    fn recheck(&self, running: Vec<String>, sessions: ActorRef<SessionsMsg>) {
        let store = self.store.clone();
        let consoles = self.consoles.clone();
        let audit = self.audit.clone();
        tokio::spawn(async move {
            let running: BTreeSet<String> = running.into_iter().collect();
            let mut ids = running.clone();
            if let Ok(open) = uma_actors::call!(consoles.get(), |r| ConsolesMsg::List(None, r)) {
                ids.extend(open.into_iter().filter_map(|c| c.session));
            }
            let now = now_ms();
            for id in ids {
                // The store, never the cache: this is what catches what the cache missed.
                let reason = match crate::auth::tokens::any_session(&store, &id, now_ms()).await {
                    Ok(Some(r)) if CurrentSession::is_live(&r, now) => continue,
                    // A running actor sees to its own expiry (and audits it).
                    Ok(Some(r)) if r.revoked_at.is_none() && running.contains(&id) => continue,
                    Ok(Some(r)) if r.revoked_at.is_none() => {
                        Self::audit_expiry(&audit, &r.username);
                        EndReason::Expired
                    }
                    Ok(_) => EndReason::Revoked,
                    Err(e) => {
                        tracing::warn!(error = %e, "session re-check skipped: the store is unavailable");
                        return;
                    }
                };
                let _ = sessions.cast(SessionsMsg::End(id, reason));
            }
        });
    }
}
