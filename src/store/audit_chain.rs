//! The audit log's chain: every row written since the chain began has its place (`chain_seq`)
//! and a hash over its content and the previous row's hash (`row_hash`); the head (`audit_chain`)
//! holds the last place and hash. [`Store::verify_audit_chain`] walks the chain from the genesis
//! (or from the newest checkpoint retention left, whose signature must hold) and names the first
//! row that was changed, removed or added outside Uma.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::audit::AuditRow;
use super::{on_pool, Store, StoreResult};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Rows read per batch while verifying.
const BATCH: i64 = 1000;

/// A row's hash: HMAC-SHA-256 under the deployment's audit key over its place, the previous
/// hash and every stored field, as a JSON array (an unambiguous encoding). Without the key, rows
/// can't be rewritten with hashes that hold.
pub fn row_hash(key: &[u8], seq: i64, prev: &str, r: &AuditRow) -> String {
    let canonical = serde_json::json!([
        seq,
        prev,
        r.id,
        r.user_id,
        r.username,
        r.action,
        r.resource,
        r.details,
        r.ip_address,
        r.user_agent,
        r.status,
        r.op_id,
        r.created_at,
    ]);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(canonical.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A checkpoint's signature: HMAC-SHA-256 with the deployment's key over its place and hash.
pub fn sign(key: &[u8], seq: i64, hash: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(format!("uma audit checkpoint {seq} {hash}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The first place the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Broken {
    /// The row's place in the chain.
    pub seq: i64,
    /// The row's id, when the row is there.
    pub id: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    /// Rows checked.
    pub checked: u64,
    /// Where the walk started (after the checkpoint, or 1).
    pub from: i64,
    /// The head's place.
    pub head: i64,
    /// The first problem, if any.
    pub broken: Option<Broken>,
}

#[derive(sqlx::FromRow)]
struct Chained {
    #[sqlx(flatten)]
    row: AuditRow,
    chain_seq: i64,
    row_hash: String,
}

impl Store {
    /// Walks the chain and names the first row that does not hold (see the module).
    pub async fn verify_audit_chain(&self) -> StoreResult<ChainReport> {
        let key = self.audit_key().to_vec();
        let key = key.as_slice();
        let (head_seq, head_hash): (i64, String) = on_pool!(self, |p| sqlx::query_as(
            "SELECT seq, hash FROM audit_chain WHERE id = 'head'"
        )
        .fetch_one(p)
        .await)?;
        let checkpoints: Vec<(i64, String, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT seq, hash, signature FROM audit_checkpoints ORDER BY seq DESC"
        )
        .fetch_all(p)
        .await)?;
        let mut report = ChainReport {
            checked: 0,
            from: 1,
            head: head_seq,
            broken: None,
        };
        let (mut expected, mut prev) = (1_i64, GENESIS.to_owned());
        if let Some((seq, hash, signature)) = checkpoints.first() {
            if sign(key, *seq, hash) != *signature {
                report.broken = Some(Broken {
                    seq: *seq,
                    id: None,
                    reason: "the retention checkpoint's signature does not match".to_owned(),
                });
                return Ok(report);
            }
            expected = seq + 1;
            prev.clone_from(hash);
        }
        report.from = expected;
        let cols = "id, user_id, username, action, resource, details, ip_address, user_agent, status, op_id, created_at, chain_seq, row_hash";
        // Up to the head read first: rows written meanwhile are for the next walk.
        let sql = format!(
            "SELECT {cols} FROM audit_logs WHERE chain_seq IS NOT NULL AND chain_seq >= ? AND chain_seq <= ? ORDER BY chain_seq LIMIT ?"
        );
        // Rows before the start would have been pruned with the checkpoint.
        let early: Option<(i64, String)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT chain_seq, id FROM audit_logs WHERE chain_seq IS NOT NULL AND chain_seq < ? ORDER BY chain_seq LIMIT 1"
        )
        .bind(expected)
        .fetch_optional(p)
        .await
        })?;
        if let Some((seq, id)) = early {
            report.broken = Some(Broken {
                seq,
                id: Some(id),
                reason: "a row before the checkpoint is still there (rows put back?)".to_owned(),
            });
            return Ok(report);
        }
        loop {
            let batch: Vec<Chained> = on_pool!(self, |p| sqlx::query_as::<_, Chained>(&sql)
                .bind(expected)
                .bind(head_seq)
                .bind(BATCH)
                .fetch_all(p)
                .await)?;
            let done = (batch.len() as i64) < BATCH;
            for c in batch {
                if c.chain_seq != expected {
                    report.broken = Some(Broken {
                        seq: expected,
                        id: None,
                        reason: format!(
                            "row {expected} is missing (the next one is {})",
                            c.chain_seq
                        ),
                    });
                    return Ok(report);
                }
                let hash = row_hash(key, c.chain_seq, &prev, &c.row);
                if hash != c.row_hash {
                    report.broken = Some(Broken {
                        seq: c.chain_seq,
                        id: Some(c.row.id.clone()),
                        reason: "the row was changed after it was written".to_owned(),
                    });
                    return Ok(report);
                }
                prev = hash;
                expected += 1;
                report.checked += 1;
            }
            if done {
                break;
            }
        }
        if expected - 1 != head_seq {
            report.broken = Some(Broken {
                seq: expected,
                id: None,
                reason: format!(
                    "the newest rows are missing: the chain ends at {} but its head is at {head_seq}",
                    expected - 1
                ),
            });
        } else if prev != head_hash {
            report.broken = Some(Broken {
                seq: head_seq,
                id: None,
                reason: "the chain's head does not match its last row".to_owned(),
            });
        }
        Ok(report)
    }
}
