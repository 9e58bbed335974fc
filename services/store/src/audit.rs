//! The audit log: append-only and hash-chained. Each row's hash covers its own fields and the
//! previous row's hash, so an edited, deleted or reordered row breaks the chain from there on;
//! `verify` walks it. Appends take a transaction-scoped advisory lock, so rows chain in commit
//! order; the caller's transaction owns the append, so an action and its audit row commit
//! together or not at all.
//!
//! The chain proves order and integrity, not completeness at the end: removing the newest rows
//! leaves a valid shorter chain. Exporting the latest hash elsewhere (a report, a ticket) anchors
//! it; `verify` prints it for that.

use crate::StoreError;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Rows read per verification page.
const VERIFY_PAGE: i64 = 5_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of one row: fields in a fixed order, length-prefixed so no two rows encode alike.
pub fn row_hash(
    seq: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let detail = detail.to_string();
    for part in [
        seq.to_string().as_str(),
        at.as_str(),
        actor,
        action,
        subject,
        detail.as_str(),
        prev_hash,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// Appends one row in the caller's transaction.
pub async fn append(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<i64, StoreError> {
    // One appender at a time, until this transaction ends: the chain follows commit order.
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('platform.audit_log'))")
        .execute(&mut *conn)
        .await?;
    let last = sqlx::query!("SELECT seq, hash FROM platform.audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (seq, prev) = last.map_or((1, GENESIS.to_owned()), |r| (r.seq + 1, r.hash));
    // Microsecond precision, as Postgres stores it, so the hash recomputes from the row.
    let at = DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
        .ok_or_else(|| StoreError::Corrupt("clock out of range".into()))?;
    let hash = row_hash(seq, at, actor, action, subject, detail, &prev);
    sqlx::query!(
        r#"INSERT INTO platform.audit_log (seq, at, actor, action, subject, detail, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        seq,
        at,
        actor,
        action,
        subject,
        detail,
        prev,
        hash,
    )
    .execute(&mut *conn)
    .await?;
    Ok(seq)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub rows: u64,
    /// The hash of the last row that verified: record it elsewhere to anchor the chain's end.
    pub head: String,
    /// The first row where the chain breaks, and why.
    pub broken_at: Option<(i64, String)>,
}

/// Walks the whole chain, page by page.
pub async fn verify(conn: &mut PgConnection) -> Result<AuditReport, StoreError> {
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut rows = 0u64;
    loop {
        let page = sqlx::query!(
            r#"SELECT seq, at, actor, action, subject, detail, prev_hash, hash
                 FROM platform.audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"#,
            expected_seq,
            VERIFY_PAGE,
        )
        .fetch_all(&mut *conn)
        .await?;
        if page.is_empty() {
            return Ok(AuditReport {
                rows,
                head: prev,
                broken_at: None,
            });
        }
        for r in page {
            let why = if r.seq != expected_seq {
                Some(format!("row {expected_seq} is missing (deleted)"))
            } else if r.prev_hash != prev {
                Some("its previous hash does not match the row before it (rows deleted or reordered)".to_owned())
            } else if row_hash(r.seq, r.at, &r.actor, &r.action, &r.subject, &r.detail, &r.prev_hash) != r.hash {
                Some("its content does not match its hash (an edited row)".to_owned())
            } else {
                None
            };
            if let Some(why) = why {
                return Ok(AuditReport {
                    rows,
                    head: prev,
                    broken_at: Some((r.seq, why)),
                });
            }
            prev = r.hash;
            expected_seq += 1;
            rows += 1;
        }
    }
}
