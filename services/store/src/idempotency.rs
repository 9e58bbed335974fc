//! Idempotency keys in Postgres (after Brandur Leach's "Stripe-like idempotency keys").
//!
//! 1. `claim` commits an `in_progress` row with a lease, on its own connection.
//! 2. The effect runs in the caller's transaction, which also calls `complete`; both commit
//!    together, so a stored response always means the effect happened, and vice versa.
//! 3. If the effect fails with a retryable error the claim is `release`d; if the process dies,
//!    the lease expires and a retry may take the key over.

use crate::StoreError;
use chrono::{DateTime, Utc};
use corridor_domain::ids::MerchantId;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours; `lease` proves it when completing.
    Acquired { lease: Uuid },
    /// The key completed before with the same request: replay this response.
    Completed { status: u16, body: Vec<u8> },
    /// The key was used for a different request.
    FingerprintMismatch,
    /// Another request with this key is running right now.
    InProgress { lease_expires_at: DateTime<Utc> },
}

pub async fn claim(
    pool: &PgPool,
    merchant: MerchantId,
    key: &str,
    fingerprint: &[u8],
    lease_for: Duration,
) -> Result<Claim, StoreError> {
    let lease = Uuid::new_v4();
    let lease_secs = i64::try_from(lease_for.as_secs()).unwrap_or(i64::MAX);
    // Insert, or take over an expired lease of the same request. A completed row is never touched.
    let acquired = sqlx::query_scalar!(
        r#"INSERT INTO platform.idempotency_keys AS k
                  (merchant_id, key, request_fingerprint, status, lease_token, lease_expires_at)
           VALUES ($1, $2, $3, 'in_progress', $4, now() + $5::bigint * interval '1 second')
           ON CONFLICT (merchant_id, key) DO UPDATE
                 SET lease_token = EXCLUDED.lease_token, lease_expires_at = EXCLUDED.lease_expires_at
               WHERE k.status = 'in_progress' AND k.lease_expires_at < now()
                 AND k.request_fingerprint = EXCLUDED.request_fingerprint
           RETURNING lease_token AS "lease!""#,
        merchant.as_uuid(),
        key,
        fingerprint,
        lease,
        lease_secs,
    )
    .fetch_optional(pool)
    .await?;
    if let Some(lease) = acquired {
        return Ok(Claim::Acquired { lease });
    }
    let row = sqlx::query!(
        r#"SELECT request_fingerprint, status, response_status, response_body, lease_expires_at
             FROM platform.idempotency_keys WHERE merchant_id = $1 AND key = $2"#,
        merchant.as_uuid(),
        key,
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| StoreError::Corrupt("idempotency key vanished between claim and read".into()))?;
    if row.request_fingerprint != fingerprint {
        return Ok(Claim::FingerprintMismatch);
    }
    match (row.status.as_str(), row.response_status) {
        ("completed", Some(status)) => Ok(Claim::Completed {
            status: u16::try_from(status).map_err(|_| StoreError::Corrupt(format!("status {status}")))?,
            body: row.response_body.unwrap_or_default(),
        }),
        _ => Ok(Claim::InProgress {
            lease_expires_at: row.lease_expires_at.unwrap_or_else(Utc::now),
        }),
    }
}

/// Stores the response; call inside the transaction that made the effect. Fails if the lease was
/// lost (another request took the key over), so that transaction rolls back.
pub async fn complete(
    conn: &mut PgConnection,
    merchant: MerchantId,
    key: &str,
    lease: Uuid,
    status: u16,
    body: &[u8],
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        r#"UPDATE platform.idempotency_keys
              SET status = 'completed', response_status = $4, response_body = $5,
                  completed_at = now(), lease_token = NULL, lease_expires_at = NULL
            WHERE merchant_id = $1 AND key = $2 AND lease_token = $3 AND status = 'in_progress'"#,
        merchant.as_uuid(),
        key,
        lease,
        i16::try_from(status).map_err(|_| StoreError::Corrupt(format!("status {status}")))?,
        body,
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Constraint("idempotency_lease_lost".into()));
    }
    Ok(())
}

/// Gives the key back so the client may retry (the effect did not happen).
pub async fn release(pool: &PgPool, merchant: MerchantId, key: &str, lease: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "DELETE FROM platform.idempotency_keys WHERE merchant_id = $1 AND key = $2 AND lease_token = $3 AND status = 'in_progress'",
        merchant.as_uuid(),
        key,
        lease,
    )
    .execute(pool)
    .await?;
    Ok(())
}
