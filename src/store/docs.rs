//! Docs (admin-published articles) and who visited them.

use serde::{Serialize, Serializer};

use super::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreResult};

/// An article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Doc {
    /// Row id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Subtitle.
    pub subtitle: Option<String>,
    /// Author's username.
    pub author: String,
    /// Markdown source.
    pub content: String,
    /// Cover image URL.
    pub cover_image: Option<String>,
    /// Number of distinct users who opened it.
    pub visited_by: i64,
    /// Visible to users.
    pub published: bool,
    /// Shown first.
    pub pinned: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
    /// Tags, a JSON array of strings as stored.
    #[serde(serialize_with = "tags_as_list")]
    pub tags: String,
}

impl Doc {
    /// Its tags.
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }
}

fn tags_as_list<S: Serializer>(tags: &str, s: S) -> Result<S::Ok, S::Error> {
    let list: Vec<String> = serde_json::from_str(tags).unwrap_or_default();
    list.serialize(s)
}

/// Fields an author sets.
#[derive(Debug, Clone, Default)]
pub struct DocInput {
    /// Title.
    pub title: String,
    /// Subtitle.
    pub subtitle: Option<String>,
    /// Markdown source.
    pub content: String,
    /// Cover image URL.
    pub cover_image: Option<String>,
    /// Visible to users.
    pub published: bool,
    /// Shown first.
    pub pinned: bool,
    /// Tags.
    pub tags: Vec<String>,
}

const DOC_COLS: &str = "id, title, subtitle, author, content, cover_image, visited_by, published, pinned, created_at, updated_at, tags";

impl Store {
    /// Creates a doc.
    pub async fn create_doc(&self, author: &str, input: &DocInput) -> StoreResult<Doc> {
        let now = now_ms();
        let id = new_id();
        let sql =
            format!("INSERT INTO docs ({DOC_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        let tags = tags_json(&input.tags);
        exec!(self, |p| sqlx::query(&sql)
            .bind(&id)
            .bind(&input.title)
            .bind(&input.subtitle)
            .bind(author)
            .bind(&input.content)
            .bind(&input.cover_image)
            .bind(0_i64)
            .bind(input.published)
            .bind(input.pinned)
            .bind(now)
            .bind(now)
            .bind(&tags)
            .execute(p)
            .await)?;
        self.doc(&id).await?.ok_or(super::StoreError::NotFound)
    }

    /// A doc by id.
    pub async fn doc(&self, id: &str) -> StoreResult<Option<Doc>> {
        let sql = format!("SELECT {DOC_COLS} FROM docs WHERE id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Doc>(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Docs, pinned first then newest; only published ones unless `include_drafts`.
    pub async fn list_docs(&self, include_drafts: bool) -> StoreResult<Vec<Doc>> {
        let sql = format!(
            "SELECT {DOC_COLS} FROM docs WHERE published = ? OR ? ORDER BY pinned DESC, created_at DESC"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Doc>(&sql)
            .bind(true)
            .bind(include_drafts)
            .fetch_all(p)
            .await)?)
    }

    /// Replaces a doc's editable fields.
    pub async fn update_doc(&self, id: &str, input: &DocInput) -> StoreResult<()> {
        let rows = exec!(self, |p| {
            sqlx::query(
            "UPDATE docs SET title = ?, subtitle = ?, content = ?, cover_image = ?, published = ?, pinned = ?, updated_at = ?, tags = ? WHERE id = ?"
        )
        .bind(&input.title)
        .bind(&input.subtitle)
        .bind(&input.content)
        .bind(&input.cover_image)
        .bind(input.published)
        .bind(input.pinned)
        .bind(now_ms())
        .bind(tags_json(&input.tags))
        .bind(id)
        .execute(p)
        .await
        })?;
        expect_one(rows)
    }

    /// Docs matching every word of `query` (prefixes count: `prox` finds "Proxmox") in title,
    /// subtitle, body or tags, best match first; only published ones unless `include_drafts`.
    /// Words are taken from letters and digits only, so no query syntax reaches the engine.
    pub async fn search_docs(
        &self,
        query: &str,
        include_drafts: bool,
        limit: i64,
    ) -> StoreResult<Vec<Doc>> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .map(str::to_lowercase)
            // MariaDB's index skips words under 3 characters and its stopwords; both backends
            // ignore them, so a search finds the same on either.
            .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()))
            .take(12)
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let cols = DOC_COLS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(match self.pool() {
            super::Pool::Sqlite(p) => {
                let q = words
                    .iter()
                    .map(|w| format!("\"{w}\"*"))
                    .collect::<Vec<_>>()
                    .join(" ");
                sqlx::query_as::<_, Doc>(&format!(
                    "SELECT {cols} FROM docs_fts f JOIN docs d ON d.id = f.doc_id \
                     WHERE docs_fts MATCH ? AND (d.published = ? OR ?) \
                     ORDER BY bm25(docs_fts, 0.0, 10.0, 5.0, 1.0, 3.0), d.created_at DESC LIMIT ?"
                ))
                .bind(q)
                .bind(true)
                .bind(include_drafts)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
            super::Pool::MySql(p) => {
                let q = words
                    .iter()
                    .map(|w| format!("+{w}*"))
                    .collect::<Vec<_>>()
                    .join(" ");
                sqlx::query_as::<_, Doc>(&format!(
                    "SELECT {cols} FROM docs d \
                     WHERE MATCH (d.title, d.subtitle, d.content, d.tags) AGAINST (? IN BOOLEAN MODE) \
                     AND (d.published = ? OR ?) \
                     ORDER BY MATCH (d.title, d.subtitle, d.content, d.tags) AGAINST (? IN BOOLEAN MODE) DESC, \
                     d.created_at DESC LIMIT ?"
                ))
                .bind(&q)
                .bind(true)
                .bind(include_drafts)
                .bind(&q)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
        })
    }

    /// Deletes a doc with its visits and uploads' records.
    pub async fn delete_doc(&self, id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query("DELETE FROM docs WHERE id = ?")
            .bind(id)
            .execute(p)
            .await)?;
        expect_one(rows)
    }

    /// Records that a user opened a doc; `visited_by` counts each user once. Returns `true` on
    /// a user's first visit.
    pub async fn record_doc_visit(&self, doc_id: &str, user_id: &str) -> StoreResult<bool> {
        let now = now_ms();
        let again = exec!(self, |p| {
            sqlx::query(
            "UPDATE doc_visits SET last_at = ?, visits = visits + 1 WHERE doc_id = ? AND user_id = ?"
        )
        .bind(now)
        .bind(doc_id)
        .bind(user_id)
        .execute(p)
        .await
        })?;
        if again > 0 {
            return Ok(false);
        }
        let inserted = on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO doc_visits (doc_id, user_id, first_at, last_at, visits) VALUES (?, ?, ?, ?, 1)")
                .bind(doc_id)
                .bind(user_id)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE docs SET visited_by = visited_by + 1 WHERE id = ?")
                .bind(doc_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        });
        match inserted {
            Ok(()) => Ok(true),
            Err(e) => match super::StoreError::from(e) {
                // Another request recorded the first visit at the same moment.
                super::StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }
}

/// Tags as stored: a JSON array of strings.
fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// InnoDB's default full-text stopwords (of 3 letters or more).
const STOPWORDS: &[&str] = &[
    "about", "are", "com", "for", "from", "how", "that", "the", "this", "was", "what", "when",
    "where", "who", "will", "with", "und", "www",
];
