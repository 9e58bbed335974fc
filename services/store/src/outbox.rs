//! The transactional outbox: call `enqueue` inside the transaction that makes the change.

use crate::StoreError;
use corridor_domain::ids::{EventId, MerchantId};
use sqlx::PgConnection;

pub async fn enqueue(
    conn: &mut PgConnection,
    merchant: Option<MerchantId>,
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<EventId, StoreError> {
    let id = EventId::new();
    sqlx::query!(
        "INSERT INTO platform.outbox (id, merchant_id, event_type, payload) VALUES ($1, $2, $3, $4)",
        id.as_uuid(),
        merchant.map(|m| m.as_uuid()),
        event_type,
        payload,
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
