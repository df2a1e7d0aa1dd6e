//! Guest ids held back from new guests: an id whose backups still exist must not be handed to
//! another guest (backups are matched by id). Uma records such ids when it backs a guest up and
//! when it finds backups on the storages, so they stay held while a node is unreachable.

use std::collections::BTreeSet;

use super::{exec, now_ms, on_pool, Store, StoreError, StoreResult};

impl Store {
    /// Holds `vmids` back (again) for `reason`.
    pub async fn hold_guest_ids(&self, vmids: &[u32], reason: &str) -> StoreResult<()> {
        let now = now_ms();
        for id in vmids {
            let updated = exec!(self, |p| sqlx::query(
                "UPDATE held_guest_ids SET reason = ?, seen_at = ? WHERE vmid = ?"
            )
            .bind(reason)
            .bind(now)
            .bind(i64::from(*id))
            .execute(p)
            .await)?;
            if updated > 0 {
                continue;
            }
            let inserted = exec!(self, |p| sqlx::query(
                "INSERT INTO held_guest_ids (vmid, reason, seen_at) VALUES (?, ?, ?)"
            )
            .bind(i64::from(*id))
            .bind(reason)
            .bind(now)
            .execute(p)
            .await);
            match inserted.map_err(StoreError::from) {
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Every held id.
    pub async fn held_guest_ids(&self) -> StoreResult<BTreeSet<u32>> {
        let rows: Vec<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT vmid FROM held_guest_ids ORDER BY vmid"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .filter_map(|(v,)| u32::try_from(v).ok())
            .collect())
    }

    /// Releases the held ids not in `keep` (after every storage was read and found no backups
    /// of them).
    pub async fn release_guest_ids_except(&self, keep: &BTreeSet<u32>) -> StoreResult<u64> {
        let mut released = 0;
        for id in self.held_guest_ids().await?.difference(keep) {
            released += exec!(self, |p| sqlx::query(
                "DELETE FROM held_guest_ids WHERE vmid = ?"
            )
            .bind(i64::from(*id))
            .execute(p)
            .await)?;
        }
        Ok(released)
    }
}
