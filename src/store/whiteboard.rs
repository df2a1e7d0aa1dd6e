//! Saved whiteboard states: one row per board (`default` is the shared board).

use super::{exec, now_ms, on_pool, Store, StoreError, StoreResult};

/// A board's saved strokes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct WhiteboardState {
    /// Board id.
    pub id: String,
    /// JSON array of strokes.
    pub elements: String,
    /// Last save (ms).
    pub updated_at: i64,
}

impl Store {
    /// The saved state of a board.
    pub async fn whiteboard(&self, id: &str) -> StoreResult<Option<WhiteboardState>> {
        Ok(on_pool!(self, |p| sqlx::query_as::<_, WhiteboardState>(
            "SELECT id, elements, updated_at FROM whiteboard_states WHERE id = ?"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    /// Saves a board's strokes (insert or replace).
    pub async fn save_whiteboard(&self, id: &str, elements: &str) -> StoreResult<()> {
        let now = now_ms();
        let update = || async move {
            exec!(self, |p| sqlx::query(
                "UPDATE whiteboard_states SET elements = ?, updated_at = ? WHERE id = ?"
            )
            .bind(elements)
            .bind(now)
            .bind(id)
            .execute(p)
            .await)
        };
        if self.whiteboard(id).await?.is_some() {
            update().await?;
            return Ok(());
        }
        let inserted = exec!(self, |p| sqlx::query(
            "INSERT INTO whiteboard_states (id, elements, updated_at) VALUES (?, ?, ?)"
        )
        .bind(id)
        .bind(elements)
        .bind(now)
        .execute(p)
        .await);
        match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict(_)) => update().await.map(|_| ()).map_err(Into::into),
            Err(e) => Err(e),
        }
    }

    /// Empties a board.
    pub async fn clear_whiteboard(&self, id: &str) -> StoreResult<()> {
        self.save_whiteboard(id, "[]").await
    }
}
