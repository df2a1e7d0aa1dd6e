//! The knowledge base: articles written in Markdown by administrators and read by every
//! signed-in user. Lists are pinned-first then newest, or best match first for a search; an
//! article is rendered on the server ([`markdown`]) and counts each reader once. Drafts
//! (unpublished articles) are for administrators only: to anyone else they do not exist.

pub mod markdown;

use serde_json::{json, Map, Value};

use crate::audit::{Audit, AuditAction, Status};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::events::EventLimits;
use crate::services::uploads::Uploads;
use crate::store::docs::{Doc, DocInput};
use crate::store::Store;

const READ: &str = "api:docs";
const CHANGE: &str = "api:docs-change";

/// Lists: 50 by default (the original's), 1..=200.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 200;
/// Field sizes.
/// Titles and subtitles fit the MariaDB columns (`VARCHAR(191)`).
const TITLE_MAX: usize = 191;
const SUBTITLE_MAX: usize = 191;
const CONTENT_MAX: usize = 200_000;
const COVER_MAX: usize = 500;
const TAGS_MAX: usize = 10;
const TAG_MAX: usize = 32;
/// Characters of the excerpt each list item carries.
const EXCERPT: usize = 200;

const FIELDS: [&str; 7] = [
    "title",
    "subtitle",
    "content",
    "coverImage",
    "published",
    "pinned",
    "tags",
];

/// The knowledge-base service.
#[derive(Clone)]
pub struct Docs {
    store: Store,
    audit: Audit,
    limits: EventLimits,
    uploads: Uploads,
    /// Hosts pages may load pictures from (`NEXT_IMAGE_REMOTE_HOSTS`): the only ones a cover may
    /// come from besides uploads.
    image_hosts: std::sync::Arc<Vec<String>>,
}

impl std::fmt::Debug for Docs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Docs")
    }
}

/// What a list asks for (`?q=&tag=&limit=`).
#[derive(Debug, Default)]
pub struct ListQuery<'a> {
    /// Words to search for.
    pub q: Option<&'a str>,
    /// Only articles with this tag.
    pub tag: Option<&'a str>,
    /// How many at most.
    pub limit: Option<&'a str>,
}

impl Docs {
    /// The service over these parts.
    pub fn new(
        store: Store,
        audit: Audit,
        limits: EventLimits,
        uploads: Uploads,
        image_hosts: Vec<String>,
    ) -> Self {
        Self {
            store,
            audit,
            limits,
            uploads,
            image_hosts: std::sync::Arc::new(image_hosts),
        }
    }

    /// The caller's uploads this doc shows become the doc's: they go when it does.
    async fn attach_shown(&self, caller: &Caller, doc: &Doc) {
        let cover = doc.cover_image.as_deref().unwrap_or("");
        self.uploads
            .attach_shown(caller, &doc.id, &[cover, &doc.content])
            .await;
    }

    async fn limit(&self, caller: &Caller, budget: &str, action: AuditAction) -> AppResult<()> {
        crate::services::api_budget(&self.limits, &self.audit, caller, budget, action).await
    }

    fn admin(&self, caller: &Caller, action: AuditAction, resource: &str) -> AppResult<()> {
        if caller.is_admin() {
            return Ok(());
        }
        let err = AppError::with_message(ErrorCode::Forbidden, "Only administrators edit the docs");
        self.audit.refused(&caller.actor, action, resource, &err);
        Err(err)
    }

    /// Published articles (with drafts for administrators when `drafts`): pinned first then
    /// newest, or best match first for `q`; each with a plain-text excerpt.
    pub async fn list(
        &self,
        caller: &Caller,
        query: &ListQuery<'_>,
        drafts: bool,
    ) -> AppResult<Value> {
        let action = if drafts {
            AuditAction::DocAdminList
        } else {
            AuditAction::DocPublicList
        };
        let limit = match query.limit.map(str::trim).filter(|l| !l.is_empty()) {
            None => LIST_DEFAULT,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=LIST_MAX).contains(&n) => n,
                _ => {
                    return Err(AppError::field(
                        "limit",
                        format!("use a whole number from 1 to {LIST_MAX}"),
                    ))
                }
            },
        };
        let tag = match query.tag.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(tag(t).map_err(|m| AppError::field("tag", m))?),
        };
        let q = query.q.map(str::trim).filter(|q| !q.is_empty());
        if q.is_some_and(|q| q.chars().count() > 200) {
            return Err(AppError::field("q", "at most 200 characters"));
        }
        if drafts {
            self.admin(caller, action, "docs")?;
        }
        self.limit(caller, READ, action).await?;
        let docs = match q {
            Some(q) => self.store.search_docs(q, drafts, LIST_MAX as i64).await?,
            None => self.store.list_docs(drafts).await?,
        };
        let list: Vec<Value> = docs
            .iter()
            .filter(|d| tag.as_ref().is_none_or(|t| d.tag_list().contains(t)))
            .take(limit)
            .map(|d| item(d, false))
            .collect();
        self.audit.record(
            &caller.actor,
            action,
            "docs",
            Status::Success,
            json!({ "count": list.len(), "q": q, "tag": tag }),
        );
        Ok(Value::Array(list))
    }

    /// One article, rendered. A draft is "not found" unless `drafts` (administrators). A
    /// reader's first visit counts (each user once).
    pub async fn read(&self, caller: &Caller, id: &str, drafts: bool) -> AppResult<Value> {
        let action = if drafts {
            AuditAction::DocView
        } else {
            AuditAction::DocPublicView
        };
        let resource = format!("doc:{id}");
        if drafts {
            self.admin(caller, action, &resource)?;
        }
        self.limit(caller, READ, action).await?;
        let doc = match self.store.doc(id).await? {
            Some(d) if d.published || drafts => d,
            _ => return Err(not_found()),
        };
        let mut doc = doc;
        if !drafts {
            if let Some(user) = self.store.user_by_username(caller.username()).await? {
                if self.store.record_doc_visit(&doc.id, &user.id).await? {
                    doc.visited_by += 1;
                }
            }
        }
        self.audit
            .record(&caller.actor, action, &resource, Status::Success, json!({}));
        Ok(item(&doc, true))
    }

    /// Renders Markdown for the editor's preview (administrators).
    pub async fn preview(&self, caller: &Caller, body: &Value) -> AppResult<Value> {
        let action = AuditAction::DocUpdate;
        self.limit(caller, READ, action).await?;
        self.admin(caller, action, "docs:preview")?;
        let content = match crate::services::json_object(body)?.get("content") {
            Some(Value::String(s)) if s.chars().count() <= CONTENT_MAX => s,
            Some(Value::String(_)) => {
                return Err(AppError::field(
                    "content",
                    format!("at most {CONTENT_MAX} characters"),
                ))
            }
            _ => return Err(AppError::field("content", "send the Markdown as text")),
        };
        Ok(serde_json::to_value(markdown::render(content)).unwrap_or_default())
    }

    /// A new article (administrators); its author is the caller.
    pub async fn create(&self, caller: &Caller, author: &str, body: &Value) -> AppResult<Value> {
        let action = AuditAction::DocCreate;
        self.limit(caller, CHANGE, action).await?;
        self.admin(caller, action, "doc")?;
        let input = fields(body, None, &self.image_hosts)
            .inspect_err(|e| self.audit.refused(&caller.actor, action, "doc", e))?;
        let doc = self.store.create_doc(author, &input).await?;
        self.attach_shown(caller, &doc).await;
        self.audit.record(
            &caller.actor,
            action,
            &format!("doc:{}", doc.id),
            Status::Success,
            json!({ "title": doc.title, "published": doc.published }),
        );
        Ok(item(&doc, true))
    }

    /// Changes the fields sent (administrators).
    pub async fn update(&self, caller: &Caller, id: &str, body: &Value) -> AppResult<Value> {
        let action = AuditAction::DocUpdate;
        let resource = format!("doc:{id}");
        self.limit(caller, CHANGE, action).await?;
        self.admin(caller, action, &resource)?;
        let before = self.store.doc(id).await?.ok_or_else(not_found)?;
        let input = fields(body, Some(&before), &self.image_hosts)
            .inspect_err(|e| self.audit.refused(&caller.actor, action, &resource, e))?;
        self.store.update_doc(id, &input).await?;
        let after = self.store.doc(id).await?.ok_or_else(not_found)?;
        self.attach_shown(caller, &after).await;
        let changed: Vec<&str> = crate::services::json_object(body)?
            .keys()
            .map(String::as_str)
            .collect();
        self.audit.record(
            &caller.actor,
            action,
            &resource,
            Status::Success,
            json!({
                "before": summary(&before), "after": summary(&after), "changedFields": changed,
            }),
        );
        Ok(item(&after, true))
    }

    /// Deletes an article (administrators).
    pub async fn delete(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let action = AuditAction::DocDelete;
        let resource = format!("doc:{id}");
        self.limit(caller, CHANGE, action).await?;
        self.admin(caller, action, &resource)?;
        let before = self.store.doc(id).await?.ok_or_else(not_found)?;
        let files = self.store.uploads_of_doc(id).await?;
        self.store.delete_doc(id).await?;
        // Its files go with it, unless another doc shows them or someone else uploaded them.
        for f in &files {
            self.uploads.forget_file(&f.stored_name).await;
        }
        self.audit.record(
            &caller.actor,
            action,
            &resource,
            Status::Success,
            json!({ "before": summary(&before) }),
        );
        Ok(())
    }
}

fn not_found() -> AppError {
    AppError::with_message(ErrorCode::NotFound, "Doc not found")
}

/// A doc as the API shows it: the original's fields plus tags and an excerpt; with `full`, the
/// Markdown source, the rendered HTML and the headings.
fn item(d: &Doc, full: bool) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "excerpt".into(),
            json!(markdown::excerpt(&d.content, EXCERPT)),
        );
        if full {
            let r = markdown::render(&d.content);
            o.insert("html".into(), json!(r.html));
            o.insert("headings".into(), json!(r.headings));
        } else {
            o.remove("content");
        }
    }
    v
}

/// What an audit row keeps of a doc (not its whole body).
fn summary(d: &Doc) -> Value {
    json!({
        "title": d.title, "subtitle": d.subtitle, "published": d.published, "pinned": d.pinned,
        "tags": d.tag_list(), "coverImage": d.cover_image, "contentChars": d.content.chars().count(),
    })
}

/// A tag: 1 to 32 of lowercase letters, digits and dashes.
fn tag(raw: &str) -> Result<String, String> {
    let t = raw.trim().to_lowercase();
    if t.is_empty()
        || t.chars().count() > TAG_MAX
        || !t.chars().all(|c| c.is_alphanumeric() || c == '-')
    {
        return Err(format!(
            "use 1 to {TAG_MAX} letters, digits and dashes (got '{raw}')"
        ));
    }
    Ok(t)
}

fn text(
    body: &Map<String, Value>,
    key: &str,
    max: usize,
    required: bool,
) -> AppResult<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(AppError::field(key, "required")),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                if required {
                    Err(AppError::field(key, "required"))
                } else {
                    Ok(None)
                }
            } else if s.chars().count() > max {
                Err(AppError::field(key, format!("at most {max} characters")))
            } else {
                Ok(Some(s.to_owned()))
            }
        }
        Some(_) => Err(AppError::field(key, "send text")),
    }
}

/// A cover image: one of Uma's uploaded pictures (`/uploads/…`), or an `https` address on a host
/// pages may load pictures from (`NEXT_IMAGE_REMOTE_HOSTS`; any other would be blocked by the
/// pages' content security policy and never show).
fn cover(raw: &str, image_hosts: &[String]) -> AppResult<String> {
    let ok = match raw.strip_prefix("/uploads/") {
        Some(name) => crate::services::uploads::stored_kind(name).is_some_and(|k| k.is_image()),
        None => url::Url::parse(raw).is_ok_and(|u| {
            u.scheme() == "https"
                && u.host_str().is_some_and(|h| {
                    image_hosts
                        .iter()
                        .any(|allowed| match allowed.strip_prefix("*.") {
                            Some(suffix) => h.ends_with(&format!(".{suffix}")),
                            None => h.eq_ignore_ascii_case(allowed),
                        })
                })
        }),
    };
    if ok {
        Ok(raw.to_owned())
    } else if image_hosts.is_empty() {
        Err(AppError::field(
            "coverImage",
            "upload a picture for the cover",
        ))
    } else {
        Err(AppError::field(
            "coverImage",
            format!(
                "upload a picture, or use an https address on {}",
                image_hosts.join(", ")
            ),
        ))
    }
}

/// The fields of a request: a new doc's (title and content required), or the ones sent over
/// `before`. Each bad field is named.
fn fields(body: &Value, before: Option<&Doc>, image_hosts: &[String]) -> AppResult<DocInput> {
    let body = crate::services::json_object(body)?;
    if let Some(k) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(AppError::field(
            k,
            format!("is not a field of a doc (use {})", FIELDS.join(", ")),
        ));
    }
    let new = before.is_none();
    let pick =
        |key: &str, max: usize, required: bool, old: Option<String>| -> AppResult<Option<String>> {
            if body.contains_key(key) || new {
                text(body, key, max, required)
            } else {
                Ok(old)
            }
        };
    let title =
        pick("title", TITLE_MAX, true, before.map(|b| b.title.clone()))?.unwrap_or_default();
    let content = pick(
        "content",
        CONTENT_MAX,
        true,
        before.map(|b| b.content.clone()),
    )?
    .unwrap_or_default();
    let subtitle = pick(
        "subtitle",
        SUBTITLE_MAX,
        false,
        before.and_then(|b| b.subtitle.clone()),
    )?;
    let cover_image = match pick(
        "coverImage",
        COVER_MAX,
        false,
        before.and_then(|b| b.cover_image.clone()),
    )? {
        Some(c) if body.contains_key("coverImage") => Some(cover(&c, image_hosts)?),
        other => other,
    };
    let flag = |key: &str, default: bool| -> AppResult<bool> {
        match body.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(AppError::field(key, "use true or false")),
        }
    };
    let published = flag("published", before.is_none_or(|b| b.published))?;
    let pinned = flag("pinned", before.is_some_and(|b| b.pinned))?;
    let tags = match body.get("tags") {
        None => before.map(Doc::tag_list).unwrap_or_default(),
        Some(Value::Array(list)) => {
            if list.len() > TAGS_MAX {
                return Err(AppError::field("tags", format!("at most {TAGS_MAX}")));
            }
            let mut out: Vec<String> = Vec::new();
            for t in list {
                let Value::String(s) = t else {
                    return Err(AppError::field("tags", "send a list of words"));
                };
                let t = tag(s).map_err(|m| AppError::field("tags", m))?;
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            out
        }
        Some(_) => return Err(AppError::field("tags", "send a list of words")),
    };
    Ok(DocInput {
        title,
        subtitle,
        content,
        cover_image,
        published,
        pinned,
        tags,
    })
}
