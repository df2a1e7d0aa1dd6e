//! Per-pool quota limits (`PoolLimit`). Zero means "no limit of this kind".

use serde::{Deserialize, Serialize};

use super::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreError, StoreResult};

/// The limits of one pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PoolLimit {
    /// Row id.
    pub id: String,
    /// Proxmox pool id.
    pub pool_id: String,
    /// Max QEMU VMs.
    #[serde(rename = "maxVMs")]
    pub max_vms: i64,
    /// Max LXC containers.
    #[serde(rename = "maxLXCs")]
    pub max_lxcs: i64,
    /// Max VNets.
    pub max_vnets: i64,
    /// Max vCPUs.
    pub max_cpu: i64,
    /// Max memory (MiB).
    pub max_memory: i64,
    /// Max disk (GiB).
    pub max_disk: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

impl PoolLimit {
    /// The six numbers.
    pub fn limits(&self) -> Limits {
        Limits {
            max_vms: self.max_vms,
            max_lxcs: self.max_lxcs,
            max_vnets: self.max_vnets,
            max_cpu: self.max_cpu,
            max_memory: self.max_memory,
            max_disk: self.max_disk,
        }
    }
}

/// The six numbers an admin sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Limits {
    /// Max QEMU VMs.
    pub max_vms: i64,
    /// Max LXC containers.
    pub max_lxcs: i64,
    /// Max VNets.
    pub max_vnets: i64,
    /// Max vCPUs.
    pub max_cpu: i64,
    /// Max memory (MiB).
    pub max_memory: i64,
    /// Max disk (GiB).
    pub max_disk: i64,
}

const COLS: &str = "id, pool_id, max_vms, max_lxcs, max_vnets, max_cpu, max_memory, max_disk, created_at, updated_at";

impl Store {
    /// The limits of a pool, if set.
    pub async fn pool_limit(&self, pool_id: &str) -> StoreResult<Option<PoolLimit>> {
        let sql = format!("SELECT {COLS} FROM pool_limits WHERE pool_id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, PoolLimit>(&sql)
            .bind(pool_id)
            .fetch_optional(p)
            .await)?)
    }

    /// Every pool's limits, by pool id.
    pub async fn pool_limits(&self) -> StoreResult<Vec<PoolLimit>> {
        let sql = format!("SELECT {COLS} FROM pool_limits ORDER BY pool_id");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, PoolLimit>(&sql)
            .fetch_all(p)
            .await)?)
    }

    /// Sets a pool's limits (insert or replace).
    pub async fn set_pool_limit(&self, pool_id: &str, l: Limits) -> StoreResult<PoolLimit> {
        let now = now_ms();
        let update = || async move {
            exec!(self, |p| {
                sqlx::query(
                "UPDATE pool_limits SET max_vms = ?, max_lxcs = ?, max_vnets = ?, max_cpu = ?, max_memory = ?, max_disk = ?, updated_at = ? WHERE pool_id = ?"
            )
            .bind(l.max_vms)
            .bind(l.max_lxcs)
            .bind(l.max_vnets)
            .bind(l.max_cpu)
            .bind(l.max_memory)
            .bind(l.max_disk)
            .bind(now)
            .bind(pool_id)
            .execute(p)
            .await
            })
        };
        if self.pool_limit(pool_id).await?.is_some() {
            update().await?;
        } else {
            let sql =
                format!("INSERT INTO pool_limits ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            let inserted = exec!(self, |p| sqlx::query(&sql)
                .bind(new_id())
                .bind(pool_id)
                .bind(l.max_vms)
                .bind(l.max_lxcs)
                .bind(l.max_vnets)
                .bind(l.max_cpu)
                .bind(l.max_memory)
                .bind(l.max_disk)
                .bind(now)
                .bind(now)
                .execute(p)
                .await);
            match inserted.map_err(StoreError::from) {
                Ok(_) => {}
                Err(StoreError::Conflict(_)) => {
                    update().await?;
                }
                Err(e) => return Err(e),
            }
        }
        self.pool_limit(pool_id).await?.ok_or(StoreError::NotFound)
    }

    /// Removes a pool's limits (it falls back to the global defaults).
    pub async fn delete_pool_limit(&self, pool_id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "DELETE FROM pool_limits WHERE pool_id = ?"
        )
        .bind(pool_id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }
}
