use crate::StoreError;
use chrono::{DateTime, Utc};
use corridor_domain::ids::MerchantId;
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut PgConnection, id: MerchantId, name: &str) -> Result<Merchant, StoreError> {
    let row = sqlx::query!(
        "INSERT INTO platform.merchants (id, name) VALUES ($1, $2) RETURNING created_at",
        id.as_uuid(),
        name,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Merchant {
        id,
        name: name.to_owned(),
        created_at: row.created_at,
    })
}

pub async fn get(conn: &mut PgConnection, id: MerchantId) -> Result<Merchant, StoreError> {
    let row = sqlx::query!(
        "SELECT name, created_at FROM platform.merchants WHERE id = $1",
        id.as_uuid()
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound("merchant"))?;
    Ok(Merchant {
        id,
        name: row.name,
        created_at: row.created_at,
    })
}
