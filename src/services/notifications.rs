//! Notification banners: administrators announce (a message of `b i em strong u br`, a kind, a
//! priority and an optional window), every signed-in page shows what is active, and each user
//! may dismiss a banner for good. Every change is pushed to every open page at once
//! (`notification:upsert`, `notification:remove`; a dismissal reaches the user's other tabs as
//! `notification:dismissed`), so a banner appears or goes without a reload; pages show and hide
//! banners at the edges of their window themselves, by the server's clock (`now` in each list).

use std::sync::Arc;

use serde_json::{json, Map, Value};
use uma_actors::emit::{Emit, Emitter};

use crate::audit::{Audit, AuditAction, Status};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::events::EventLimits;
use crate::push::room;
use crate::store::notifications::{NoticeFields, NoticeKind, Notification};
use crate::store::{now_ms, Store, StoreError};

/// The longest message, in characters after sanitizing.
pub const MESSAGE_MAX: usize = 2000;
/// Priorities run from `-PRIORITY_MAX` to `PRIORITY_MAX`.
pub const PRIORITY_MAX: i64 = 1000;
/// How many banners a page lists at most (`?limit=`, as the original: 50 by default, 1..=200).
const LIST_DEFAULT: i64 = 50;
const LIST_MAX: i64 = 200;

/// The REST budgets (`limits::events`).
const READ: &str = "api:notifications";
const CHANGE: &str = "api:notifications-change";

/// The fields a request may send.
const FIELDS: [&str; 6] = [
    "message", "type", "priority", "isActive", "startsAt", "endsAt",
];

/// The banners service: its store, audit log, limits and the way to every open page.
#[derive(Clone)]
pub struct Notices {
    store: Store,
    audit: Audit,
    limits: EventLimits,
    emitter: Arc<dyn Emitter>,
    sanitizer: Arc<ammonia::Builder<'static>>,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notices")
    }
}

/// The HTML a banner may hold: `b i em strong u br`, no attributes, nothing else.
fn sanitizer() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::empty();
    b.add_tags(["b", "i", "em", "strong", "u", "br"])
        .generic_attributes(std::collections::HashSet::new())
        .tag_attributes(std::collections::HashMap::new());
    b
}

/// The text a sanitized message shows: its tags dropped and its entities read back.
fn visible_text(clean: &str) -> String {
    let mut text = String::with_capacity(clean.len());
    let mut in_tag = false;
    for c in clean.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

impl Notices {
    /// The service over these parts.
    pub fn new(store: Store, audit: Audit, limits: EventLimits, emitter: Arc<dyn Emitter>) -> Self {
        Self {
            store,
            audit,
            limits,
            emitter,
            sanitizer: Arc::new(sanitizer()),
        }
    }

    /// Counts one call against `budget`; refused calls are audited as warnings of `action`.
    async fn limit(&self, caller: &Caller, budget: &str, action: AuditAction) -> AppResult<()> {
        crate::services::api_budget(&self.limits, &self.audit, caller, budget, action).await
    }

    /// Administrators only; others are refused (and audited).
    fn admin(&self, caller: &Caller, action: AuditAction, resource: &str) -> AppResult<()> {
        if caller.is_admin() {
            return Ok(());
        }
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators manage notifications",
        );
        self.audit.refused(&caller.actor, action, resource, &err);
        Err(err)
    }

    /// The banners the caller sees (active, not over, not dismissed; later ones included for the
    /// page to show in time), with the server's clock.
    pub async fn list_for(&self, caller: &Caller, limit: Option<&str>) -> AppResult<Value> {
        let limit = match limit.map(str::trim).filter(|l| !l.is_empty()) {
            None => LIST_DEFAULT,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=LIST_MAX).contains(&n) => n,
                _ => {
                    return Err(AppError::field(
                        "limit",
                        format!("use a whole number from 1 to {LIST_MAX}"),
                    ))
                }
            },
        };
        self.limit(caller, READ, AuditAction::ViewNotifications)
            .await?;
        let now = now_ms();
        let list = self
            .store
            .notifications_for(caller.username(), now, limit)
            .await?;
        let dismissed = self.store.dismissed_by(caller.username()).await?;
        self.audit.record(
            &caller.actor,
            AuditAction::ViewNotifications,
            "notifications",
            Status::Success,
            json!({ "count": list.len() }),
        );
        Ok(json!({ "notifications": list, "dismissed": dismissed, "now": now }))
    }

    /// Every banner, inactive and over ones too (administrators).
    pub async fn list_all(&self, caller: &Caller) -> AppResult<Value> {
        self.limit(caller, READ, AuditAction::ViewNotifications)
            .await?;
        self.admin(caller, AuditAction::ViewNotifications, "notifications:all")?;
        let list = self.store.all_notifications().await?;
        self.audit.record(
            &caller.actor,
            AuditAction::ViewNotifications,
            "notifications:all",
            Status::Success,
            json!({ "count": list.len() }),
        );
        Ok(json!({ "notifications": list, "now": now_ms() }))
    }

    /// A new banner (administrators), pushed to every open page.
    pub async fn create(&self, caller: &Caller, body: &Value) -> AppResult<Notification> {
        let action = AuditAction::CreateNotification;
        // The budget first: refusals are audited, and a user must not write them without bound.
        self.limit(caller, CHANGE, action).await?;
        self.admin(caller, action, "notification")?;
        let fields = self
            .fields(body, None)
            .inspect_err(|e| self.audit.refused(&caller.actor, action, "notification", e))?;
        let n = self.store.create_notification(&fields).await?;
        self.audit.record(
            &caller.actor,
            action,
            &format!("notification:{}", n.id),
            Status::Success,
            json!({ "notification": n }),
        );
        self.push_upsert(&n).await;
        Ok(n)
    }

    /// Changes the fields sent (administrators); pushed to every open page.
    pub async fn update(&self, caller: &Caller, id: &str, body: &Value) -> AppResult<Notification> {
        let action = AuditAction::NotificationUpdate;
        let resource = format!("notification:{id}");
        self.limit(caller, CHANGE, action).await?;
        self.admin(caller, action, &resource)?;
        let before = self.existing(id).await?;
        let fields = self
            .fields(body, Some(&before))
            .inspect_err(|e| self.audit.refused(&caller.actor, action, &resource, e))?;
        let updated_at = self.store.update_notification(id, &fields).await?;
        let after = Notification {
            id: before.id.clone(),
            message: fields.message,
            kind: fields.kind,
            is_active: fields.is_active,
            priority: fields.priority,
            starts_at: fields.starts_at,
            ends_at: fields.ends_at,
            created_at: before.created_at,
            updated_at,
        };
        self.audit.record(
            &caller.actor,
            action,
            &resource,
            Status::Success,
            json!({ "before": before, "after": after }),
        );
        self.push_upsert(&after).await;
        Ok(after)
    }

    /// Deletes a banner (administrators); it goes from every open page.
    pub async fn delete(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let action = AuditAction::DeleteNotification;
        let resource = format!("notification:{id}");
        self.limit(caller, CHANGE, action).await?;
        self.admin(caller, action, &resource)?;
        let before = self.existing(id).await?;
        self.store.delete_notification(id).await?;
        self.audit.record(
            &caller.actor,
            action,
            &resource,
            Status::Success,
            json!({ "before": before }),
        );
        self.emitter
            .emit(Emit::everyone("notification:remove", json!({ "id": id })))
            .await;
        Ok(())
    }

    /// The caller dismisses a banner for good; their other tabs hide it too.
    pub async fn dismiss(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let action = AuditAction::NotificationDismiss;
        let resource = format!("notification:{id}");
        self.limit(caller, CHANGE, action).await?;
        match self.store.dismiss_notification(id, caller.username()).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        }
        self.audit
            .record(&caller.actor, action, &resource, Status::Success, json!({}));
        self.emitter
            .emit(Emit::to(
                vec![room::user(caller.username())],
                "notification:dismissed",
                json!({ "id": id }),
            ))
            .await;
        Ok(())
    }

    async fn existing(&self, id: &str) -> AppResult<Notification> {
        self.store.notification(id).await?.ok_or_else(not_found)
    }

    /// Tells every open page: a banner users may see (active, not over) in full; any other only
    /// by its id, to be taken down — an inactive draft's text is for administrators alone.
    async fn push_upsert(&self, n: &Notification) {
        let now = now_ms();
        let event = if n.is_active && n.ends_at.is_none_or(|e| now < e) {
            Emit::everyone(
                "notification:upsert",
                json!({ "notification": n, "now": now }),
            )
        } else {
            Emit::everyone("notification:remove", json!({ "id": n.id }))
        };
        self.emitter.emit(event).await;
    }

    /// The fields of a request: all of a new banner's (only `message` is required), or the
    /// ones sent merged over `before`. Each bad field is named.
    fn fields(&self, body: &Value, before: Option<&Notification>) -> AppResult<NoticeFields> {
        let body = crate::services::json_object(body)?;
        if let Some(k) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(AppError::field(
                k,
                format!(
                    "is not a field of a notification (use {})",
                    FIELDS.join(", ")
                ),
            ));
        }
        let message = match (body.get("message"), before) {
            (Some(v), _) => self.message(v)?,
            (None, Some(b)) => b.message.clone(),
            (None, None) => return Err(AppError::field("message", "required")),
        };
        let kind = match body.get("type") {
            None => before.map_or(NoticeKind::Info, |b| b.kind),
            Some(Value::String(s)) => NoticeKind::parse(s)
                .ok_or_else(|| AppError::field("type", "use info, warning, error or success"))?,
            Some(_) => {
                return Err(AppError::field(
                    "type",
                    "use info, warning, error or success",
                ))
            }
        };
        let priority = match body.get("priority") {
            None => before.map_or(0, |b| b.priority),
            Some(v) => match v.as_i64() {
                Some(p) if (-PRIORITY_MAX..=PRIORITY_MAX).contains(&p) => p,
                _ => {
                    return Err(AppError::field(
                        "priority",
                        format!("use a whole number from -{PRIORITY_MAX} to {PRIORITY_MAX}"),
                    ))
                }
            },
        };
        let is_active = match body.get("isActive") {
            None => before.is_none_or(|b| b.is_active),
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(AppError::field("isActive", "use true or false")),
        };
        let starts_at = instant(body, "startsAt", before.and_then(|b| b.starts_at))?;
        let ends_at = instant(body, "endsAt", before.and_then(|b| b.ends_at))?;
        if let (Some(s), Some(e)) = (starts_at, ends_at) {
            if e <= s {
                return Err(AppError::field("endsAt", "must be after startsAt"));
            }
        }
        Ok(NoticeFields {
            message,
            kind,
            is_active,
            priority,
            starts_at,
            ends_at,
        })
    }

    /// A message: text, sanitized to `b i em strong u br`, not empty, at most [`MESSAGE_MAX`].
    fn message(&self, v: &Value) -> AppResult<String> {
        let Value::String(raw) = v else {
            return Err(AppError::field("message", "send text"));
        };
        let clean = self.sanitizer.clean(raw.trim()).to_string();
        let text = visible_text(&clean);
        if text.trim().is_empty() {
            return Err(AppError::field("message", "required (some text to show)"));
        }
        if text.chars().count() > MESSAGE_MAX {
            return Err(AppError::field(
                "message",
                format!("at most {MESSAGE_MAX} characters"),
            ));
        }
        Ok(clean)
    }
}

fn not_found() -> AppError {
    AppError::with_message(ErrorCode::NotFound, "No such notification")
}

/// A time field: epoch milliseconds, or `null` to clear; absent keeps `before`.
fn instant(body: &Map<String, Value>, key: &str, before: Option<i64>) -> AppResult<Option<i64>> {
    match body.get(key) {
        None => Ok(before),
        Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            // Between 2000 and 2200: a time in seconds or a typo is refused, not stored.
            Some(ms) if (946_684_800_000..=7_258_118_400_000).contains(&ms) => Ok(Some(ms)),
            _ => Err(AppError::field(
                key,
                "use a time in milliseconds since 1970 (UTC), or null",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_keep_only_simple_emphasis() {
        let s = sanitizer();
        assert_eq!(
            s.clean(r#"<b onclick="x()">Down</b> <script>alert(1)</script><a href="javascript:x">link</a><br><u>u</u>"#)
                .to_string(),
            "<b>Down</b> link<br><u>u</u>"
        );
        assert_eq!(s.clean("<img src=x onerror=alert(1)>").to_string(), "");
        assert_eq!(s.clean("<b title=t lang=en>x</b>").to_string(), "<b>x</b>");
    }

    #[test]
    fn the_visible_text_is_what_counts() {
        let s = sanitizer();
        let shown = |raw: &str| visible_text(&s.clean(raw).to_string());
        assert_eq!(shown("<br><b> </b>").trim(), "");
        assert_eq!(shown("AT&T <b>up</b>"), "AT&T up");
        assert_eq!(shown("a &lt; b"), "a < b");
    }

    #[test]
    fn windows_and_activity_decide_what_shows() {
        let n = Notification {
            id: "n".into(),
            message: "m".into(),
            kind: NoticeKind::Info,
            is_active: true,
            priority: 0,
            starts_at: Some(100),
            ends_at: Some(200),
            created_at: 0,
            updated_at: 0,
        };
        assert!(!n.shows_at(99));
        assert!(n.shows_at(100));
        assert!(n.shows_at(199));
        assert!(!n.shows_at(200));
        assert!(!Notification {
            is_active: false,
            ..n.clone()
        }
        .shows_at(150));
    }
}
