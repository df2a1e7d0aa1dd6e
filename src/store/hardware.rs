//! Hardware templates: named VM/container configurations users create from.

use serde::Serialize;

use super::{exec, expect_one, now_ms, on_pool, Store, StoreResult};

/// A hardware template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct HardwareTemplate {
    /// Id (`template-…`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `prebuilt` or `custom`.
    pub category: String,
    /// The configuration as JSON.
    pub config: String,
    /// Owner's username (`system` for prebuilt ones).
    pub owner: String,
    /// Visible to everyone.
    pub shared: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

const COLS: &str = "id, name, description, category, config, owner, shared, created_at, updated_at";

impl Store {
    /// Stores a new template (its id and times as given).
    pub async fn insert_hardware_template(&self, t: &HardwareTemplate) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO hardware_templates ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        exec!(self, |p| sqlx::query(&sql)
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.description)
            .bind(&t.category)
            .bind(&t.config)
            .bind(&t.owner)
            .bind(t.shared)
            .bind(t.created_at)
            .bind(t.updated_at)
            .execute(p)
            .await)?;
        Ok(())
    }

    /// A template by id.
    pub async fn hardware_template(&self, id: &str) -> StoreResult<Option<HardwareTemplate>> {
        let sql = format!("SELECT {COLS} FROM hardware_templates WHERE id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, HardwareTemplate>(
            &sql
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    /// Templates a user may see: their own and the shared ones, by name.
    pub async fn visible_hardware_templates(
        &self,
        username: &str,
    ) -> StoreResult<Vec<HardwareTemplate>> {
        let sql = format!(
            "SELECT {COLS} FROM hardware_templates WHERE owner = ? OR shared = ? ORDER BY name, id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, HardwareTemplate>(
            &sql
        )
        .bind(username)
        .bind(true)
        .fetch_all(p)
        .await)?)
    }

    /// Replaces a template's editable fields.
    pub async fn update_hardware_template(&self, t: &HardwareTemplate) -> StoreResult<()> {
        let rows = exec!(self, |p| {
            sqlx::query(
            "UPDATE hardware_templates SET name = ?, description = ?, category = ?, config = ?, shared = ?, updated_at = ? WHERE id = ?"
        )
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.category)
        .bind(&t.config)
        .bind(t.shared)
        .bind(now_ms())
        .bind(&t.id)
        .execute(p)
        .await
        })?;
        expect_one(rows)
    }

    /// Deletes a template.
    pub async fn delete_hardware_template(&self, id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "DELETE FROM hardware_templates WHERE id = ?"
        )
        .bind(id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }
}
