//! Webhook tables (schema `webhooks`).

use chrono::{DateTime, Utc};
use corridor_domain::ids::{EventId, MerchantId, WebhookDeliveryId, WebhookEndpointId};
use corridor_store::StoreError;
use sqlx::PgConnection;

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub merchant_id: MerchantId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

macro_rules! endpoint_from_row {
    ($r:expr) => {
        Endpoint {
            id: WebhookEndpointId::from_uuid($r.id),
            merchant_id: MerchantId::from_uuid($r.merchant_id),
            url: $r.url,
            description: $r.description,
            event_types: $r.event_types,
            secret: $r.secret,
            previous_secret: $r.previous_secret,
            previous_secret_expires_at: $r.previous_secret_expires_at,
            enabled: $r.enabled,
            disabled_reason: $r.disabled_reason,
            created_at: $r.created_at,
        }
    };
}

pub async fn insert_endpoint(
    conn: &mut PgConnection,
    merchant: MerchantId,
    url: &str,
    description: &str,
    event_types: &[String],
    secret: &str,
) -> Result<Endpoint, StoreError> {
    let id = WebhookEndpointId::new();
    let r = sqlx::query!(
        r#"INSERT INTO webhooks.endpoints (id, merchant_id, url, description, event_types, secret)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, merchant_id, url, description, event_types, secret, previous_secret,
                     previous_secret_expires_at, enabled, disabled_reason, created_at"#,
        id.as_uuid(),
        merchant.as_uuid(),
        url,
        description,
        event_types,
        secret,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(endpoint_from_row!(r))
}

pub async fn get_endpoint(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: WebhookEndpointId,
) -> Result<Endpoint, StoreError> {
    let r = sqlx::query!(
        r#"SELECT id, merchant_id, url, description, event_types, secret, previous_secret,
                  previous_secret_expires_at, enabled, disabled_reason, created_at
             FROM webhooks.endpoints WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL"#,
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound("webhook endpoint"))?;
    Ok(endpoint_from_row!(r))
}

pub async fn list_endpoints(
    conn: &mut PgConnection,
    merchant: MerchantId,
    after: Option<WebhookEndpointId>,
    limit: i64,
) -> Result<Vec<Endpoint>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT id, merchant_id, url, description, event_types, secret, previous_secret,
                  previous_secret_expires_at, enabled, disabled_reason, created_at
             FROM webhooks.endpoints
            WHERE merchant_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id > $2)
            ORDER BY id LIMIT $3"#,
        merchant.as_uuid(),
        after.map(|a| a.as_uuid()),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| endpoint_from_row!(r)).collect())
}

pub async fn delete_endpoint(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: WebhookEndpointId,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE webhooks.endpoints SET deleted_at = now(), enabled = false WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL",
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("webhook endpoint"));
    }
    fail_pending(conn, id, "the endpoint was deleted").await
}

/// Ends the pending deliveries of an endpoint that will never be called again.
async fn fail_pending(conn: &mut PgConnection, endpoint: WebhookEndpointId, reason: &str) -> Result<(), StoreError> {
    sqlx::query!(
        r#"UPDATE webhooks.deliveries SET status = 'failed', last_error = $2, updated_at = now()
            WHERE endpoint_id = $1 AND status = 'pending'"#,
        endpoint.as_uuid(),
        reason,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Installs a new secret; the old one keeps signing until `previous_valid_until`.
pub async fn rotate_secret(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: WebhookEndpointId,
    new_secret: &str,
    previous_valid_until: DateTime<Utc>,
) -> Result<(), StoreError> {
    let done = sqlx::query!(
        r#"UPDATE webhooks.endpoints
              SET previous_secret = secret, previous_secret_expires_at = $3, secret = $4
            WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL"#,
        id.as_uuid(),
        merchant.as_uuid(),
        previous_valid_until,
        new_secret,
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("webhook endpoint"));
    }
    Ok(())
}

/// Creates deliveries for up to `batch_max` outbox events not yet fanned out, one per enabled
/// endpoint of the event's merchant that subscribes to its type. Safe to run concurrently from
/// several processes (SKIP LOCKED), and at most once per event and endpoint (unique key).
pub async fn fan_out(conn: &mut PgConnection, batch_max: i64) -> Result<u64, StoreError> {
    let events = sqlx::query_scalar!(
        r#"SELECT id FROM platform.outbox WHERE fanned_out_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED"#,
        batch_max,
    )
    .fetch_all(&mut *conn)
    .await?;
    if events.is_empty() {
        return Ok(0);
    }
    sqlx::query!(
        r#"INSERT INTO webhooks.deliveries (id, event_id, endpoint_id, merchant_id, status)
           SELECT gen_random_uuid(), o.id, e.id, e.merchant_id, 'pending'
             FROM platform.outbox o
             JOIN webhooks.endpoints e ON e.merchant_id = o.merchant_id
            WHERE o.id = ANY($1) AND e.enabled AND e.deleted_at IS NULL
              AND (cardinality(e.event_types) = 0 OR o.event_type = ANY(e.event_types))
           ON CONFLICT (event_id, endpoint_id) DO NOTHING"#,
        &events,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE platform.outbox SET fanned_out_at = now() WHERE id = ANY($1)",
        &events
    )
    .execute(&mut *conn)
    .await?;
    Ok(events.len() as u64)
}

/// A delivery claimed for sending, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub attempts: i32,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub event_id: EventId,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub event_created_at: DateTime<Utc>,
}

/// Claims up to `batch_max` due deliveries by moving their next attempt `lease_secs` ahead: if
/// this process dies mid-send, the delivery becomes due again after the lease.
pub async fn claim_due(
    conn: &mut PgConnection,
    batch_max: i64,
    lease_secs: i64,
) -> Result<Vec<DueDelivery>, StoreError> {
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT d.id FROM webhooks.deliveries d
                 JOIN webhooks.endpoints e ON e.id = d.endpoint_id
                WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                  AND e.enabled AND e.deleted_at IS NULL
                ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED)
           UPDATE webhooks.deliveries d
              SET next_attempt_at = now() + $2::bigint * interval '1 second', updated_at = now()
             FROM due, webhooks.endpoints e, platform.outbox o
            WHERE d.id = due.id AND e.id = d.endpoint_id AND o.id = d.event_id
           RETURNING d.id, d.endpoint_id, d.attempts, e.url, e.secret, e.previous_secret,
                     e.previous_secret_expires_at, o.id AS event_id, o.event_type, o.payload,
                     o.created_at AS event_created_at"#,
        batch_max,
        lease_secs,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DueDelivery {
            id: WebhookDeliveryId::from_uuid(r.id),
            endpoint_id: WebhookEndpointId::from_uuid(r.endpoint_id),
            attempts: r.attempts,
            url: r.url,
            secret: r.secret,
            previous_secret: r.previous_secret,
            previous_secret_expires_at: r.previous_secret_expires_at,
            event_id: EventId::from_uuid(r.event_id),
            event_type: r.event_type,
            payload: r.payload,
            event_created_at: r.event_created_at,
        })
        .collect())
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Try again at this time.
    Retry {
        at: DateTime<Utc>,
    },
    /// Give up: retries exhausted, or the endpoint answered 410 Gone (then it is disabled too).
    Failed {
        disable_endpoint: bool,
    },
}

pub async fn record_attempt(
    conn: &mut PgConnection,
    delivery: &DueDelivery,
    status_code: Option<u16>,
    error: Option<&str>,
    duration_ms: i32,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    let code = status_code.map(|c| c as i16);
    sqlx::query!(
        "INSERT INTO webhooks.attempts (delivery_id, status_code, error, duration_ms) VALUES ($1, $2, $3, $4)",
        delivery.id.as_uuid(),
        code,
        error,
        duration_ms,
    )
    .execute(&mut *conn)
    .await?;
    let (status, next_at): (&str, Option<DateTime<Utc>>) = match outcome {
        Outcome::Succeeded => ("succeeded", None),
        Outcome::Retry { at } => ("pending", Some(*at)),
        Outcome::Failed { .. } => ("failed", None),
    };
    sqlx::query!(
        r#"UPDATE webhooks.deliveries
              SET status = $2, attempts = attempts + 1, last_status_code = $3, last_error = $4,
                  next_attempt_at = COALESCE($5, next_attempt_at), updated_at = now()
            WHERE id = $1"#,
        delivery.id.as_uuid(),
        status,
        code,
        error,
        next_at,
    )
    .execute(&mut *conn)
    .await?;
    if let Outcome::Failed { disable_endpoint: true } = outcome {
        sqlx::query!(
            "UPDATE webhooks.endpoints SET enabled = false, disabled_reason = 'the endpoint answered 410 Gone' WHERE id = $1",
            delivery.endpoint_id.as_uuid(),
        )
        .execute(&mut *conn)
        .await?;
        fail_pending(
            conn,
            delivery.endpoint_id,
            "the endpoint answered 410 Gone and was disabled",
        )
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct DeliveryLog {
    pub id: WebhookDeliveryId,
    pub event_id: EventId,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i16>,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn list_deliveries(
    conn: &mut PgConnection,
    merchant: MerchantId,
    endpoint: WebhookEndpointId,
    before: Option<WebhookDeliveryId>,
    limit: i64,
) -> Result<Vec<DeliveryLog>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT d.id, d.event_id, o.event_type, d.status, d.attempts, d.last_status_code, d.last_error,
                  d.next_attempt_at, d.created_at
             FROM webhooks.deliveries d JOIN platform.outbox o ON o.id = d.event_id
            WHERE d.merchant_id = $1 AND d.endpoint_id = $2
              AND ($3::uuid IS NULL OR d.seq < (SELECT seq FROM webhooks.deliveries WHERE id = $3))
            ORDER BY d.seq DESC LIMIT $4"#,
        merchant.as_uuid(),
        endpoint.as_uuid(),
        before.map(|b| b.as_uuid()),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeliveryLog {
            id: WebhookDeliveryId::from_uuid(r.id),
            event_id: EventId::from_uuid(r.event_id),
            event_type: r.event_type,
            status: r.status,
            attempts: r.attempts,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            created_at: r.created_at,
        })
        .collect())
}

/// Manual resend: due now, retry schedule restarted. Refused for a disabled or deleted
/// endpoint, where it would never be sent.
pub async fn resend(conn: &mut PgConnection, merchant: MerchantId, id: WebhookDeliveryId) -> Result<(), StoreError> {
    let active = sqlx::query_scalar!(
        r#"SELECT e.enabled AND e.deleted_at IS NULL AS "active!"
             FROM webhooks.deliveries d JOIN webhooks.endpoints e ON e.id = d.endpoint_id
            WHERE d.id = $1 AND d.merchant_id = $2"#,
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound("webhook delivery"))?;
    if !active {
        return Err(StoreError::Constraint("webhook_endpoint_disabled".into()));
    }
    sqlx::query!(
        r#"UPDATE webhooks.deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
            WHERE id = $1 AND merchant_id = $2"#,
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
