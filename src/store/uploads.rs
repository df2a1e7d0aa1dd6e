//! Uploaded files: one record per uploader and content. The content is stored once, under a
//! name made of its SHA-256 (`stored_name`), however many people uploaded it.

use serde::Serialize;

use super::{exec, expect_one, on_pool, Store, StoreResult};

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    /// Row id.
    pub id: String,
    /// The doc it belongs to (deleted with it).
    pub doc_id: Option<String>,
    /// Uploader's username.
    pub uploaded_by: String,
    /// Name as uploaded.
    pub file_name: String,
    /// Name on disk: the content's SHA-256 and the extension of its kind.
    pub stored_name: String,
    /// Content type found from the content.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Upload time (ms).
    pub created_at: i64,
}

const UPLOAD_COLS: &str =
    "id, doc_id, uploaded_by, file_name, stored_name, content_type, size_bytes, sha256, created_at";

impl Store {
    /// Stores an upload's record (`Conflict` when this uploader already has this content).
    pub async fn insert_upload(&self, u: &Upload) -> StoreResult<()> {
        let sql = format!("INSERT INTO uploads ({UPLOAD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        exec!(self, |p| sqlx::query(&sql)
            .bind(&u.id)
            .bind(&u.doc_id)
            .bind(&u.uploaded_by)
            .bind(&u.file_name)
            .bind(&u.stored_name)
            .bind(&u.content_type)
            .bind(u.size_bytes)
            .bind(&u.sha256)
            .bind(u.created_at)
            .execute(p)
            .await)?;
        Ok(())
    }

    /// An upload by its row id.
    pub async fn upload(&self, id: &str) -> StoreResult<Option<Upload>> {
        let sql = format!("SELECT {UPLOAD_COLS} FROM uploads WHERE id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Upload>(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// The first record of a stored file (any uploader's).
    pub async fn upload_by_stored_name(&self, stored_name: &str) -> StoreResult<Option<Upload>> {
        let sql = format!(
            "SELECT {UPLOAD_COLS} FROM uploads WHERE stored_name = ? ORDER BY created_at LIMIT 1"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Upload>(&sql)
            .bind(stored_name)
            .fetch_optional(p)
            .await)?)
    }

    /// This uploader's record of a stored file.
    pub async fn upload_of(
        &self,
        stored_name: &str,
        username: &str,
    ) -> StoreResult<Option<Upload>> {
        let sql =
            format!("SELECT {UPLOAD_COLS} FROM uploads WHERE stored_name = ? AND uploaded_by = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Upload>(&sql)
            .bind(stored_name)
            .bind(username)
            .fetch_optional(p)
            .await)?)
    }

    /// A user's uploads, newest first.
    pub async fn uploads_by(&self, username: &str, limit: i64) -> StoreResult<Vec<Upload>> {
        let sql = format!(
            "SELECT {UPLOAD_COLS} FROM uploads WHERE uploaded_by = ? ORDER BY created_at DESC, id LIMIT ?"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Upload>(&sql)
            .bind(username)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Bytes a user's uploads take (what their storage quota counts).
    pub async fn upload_usage(&self, username: &str) -> StoreResult<i64> {
        // SUM is DECIMAL on MariaDB.
        Ok(match self.pool() {
            super::Pool::Sqlite(p) => {
                sqlx::query_scalar(
                    "SELECT COALESCE(SUM(size_bytes), 0) FROM uploads WHERE uploaded_by = ?",
                )
                .bind(username)
                .fetch_one(p)
                .await?
            }
            super::Pool::MySql(p) => {
                sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS SIGNED) FROM uploads WHERE uploaded_by = ?",
                )
                .bind(username)
                .fetch_one(p)
                .await?
            }
        })
    }

    /// Uploads attached to a doc.
    pub async fn uploads_of_doc(&self, doc_id: &str) -> StoreResult<Vec<Upload>> {
        let sql = format!("SELECT {UPLOAD_COLS} FROM uploads WHERE doc_id = ? ORDER BY created_at");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Upload>(&sql)
            .bind(doc_id)
            .fetch_all(p)
            .await)?)
    }

    /// Attaches an upload to a doc.
    pub async fn attach_upload(&self, id: &str, doc_id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE uploads SET doc_id = ? WHERE id = ?"
        )
        .bind(doc_id)
        .bind(id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Deletes an upload's record.
    pub async fn delete_upload(&self, id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute(p)
            .await)?;
        expect_one(rows)
    }

    /// Whether a stored file is still recorded for anyone, or used by a doc (as its cover or in
    /// its text): while it is, the file stays on disk.
    pub async fn stored_file_in_use(&self, stored_name: &str) -> StoreResult<bool> {
        let recorded: i64 = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM uploads WHERE stored_name = ?"
        )
        .bind(stored_name)
        .fetch_one(p)
        .await)?;
        Ok(recorded > 0 || self.doc_uses_upload(stored_name, false).await?)
    }

    /// Whether a doc (a published one when `published`) shows a stored file.
    pub async fn doc_uses_upload(&self, stored_name: &str, published: bool) -> StoreResult<bool> {
        // Stored names are hex and an extension: nothing in them is a LIKE wildcard.
        let pattern = format!("%/uploads/{stored_name}%");
        let n: i64 = if published {
            on_pool!(self, |p| {
                sqlx::query_scalar(
                "SELECT COUNT(*) FROM docs WHERE published = ? AND (cover_image LIKE ? OR content LIKE ?)"
            )
            .bind(true)
            .bind(&pattern)
            .bind(&pattern)
            .fetch_one(p)
            .await
            })?
        } else {
            on_pool!(self, |p| sqlx::query_scalar(
                "SELECT COUNT(*) FROM docs WHERE cover_image LIKE ? OR content LIKE ?"
            )
            .bind(&pattern)
            .bind(&pattern)
            .fetch_one(p)
            .await)?
        };
        Ok(n > 0)
    }
}
