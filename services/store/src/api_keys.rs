//! API key rows. Secrets are generated and hashed by the platform's auth module; only the digest
//! and the visible prefix are stored here.

use crate::StoreError;
use chrono::{DateTime, Utc};
use corridor_domain::ids::{ApiKeyId, MerchantId};
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub merchant_id: MerchantId,
    pub name: String,
    pub prefix: String,
    pub secret_digest: Vec<u8>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct NewApiKey<'a> {
    pub id: ApiKeyId,
    pub merchant_id: MerchantId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_digest: &'a [u8],
    pub scopes: &'a [String],
}

pub async fn insert(conn: &mut PgConnection, key: NewApiKey<'_>) -> Result<ApiKeyRow, StoreError> {
    let row = sqlx::query!(
        r#"INSERT INTO platform.api_keys (id, merchant_id, name, prefix, secret_digest, scopes)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at"#,
        key.id.as_uuid(),
        key.merchant_id.as_uuid(),
        key.name,
        key.prefix,
        key.secret_digest,
        key.scopes,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(ApiKeyRow {
        id: key.id,
        merchant_id: key.merchant_id,
        name: key.name.to_owned(),
        prefix: key.prefix.to_owned(),
        secret_digest: key.secret_digest.to_vec(),
        scopes: key.scopes.to_vec(),
        created_at: row.created_at,
        revoked_at: None,
    })
}

/// The row as Postgres returns it; converted once into the typed `ApiKeyRow`.
struct DbApiKey {
    id: uuid::Uuid,
    merchant_id: uuid::Uuid,
    name: String,
    prefix: String,
    secret_digest: Vec<u8>,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<DbApiKey> for ApiKeyRow {
    fn from(r: DbApiKey) -> Self {
        ApiKeyRow {
            id: ApiKeyId::from_uuid(r.id),
            merchant_id: MerchantId::from_uuid(r.merchant_id),
            name: r.name,
            prefix: r.prefix,
            secret_digest: r.secret_digest,
            scopes: r.scopes,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

pub async fn find_by_prefix(conn: &mut PgConnection, prefix: &str) -> Result<Option<ApiKeyRow>, StoreError> {
    let row = sqlx::query_as!(
        DbApiKey,
        r#"SELECT id, merchant_id, name, prefix, secret_digest, scopes, created_at, revoked_at
             FROM platform.api_keys WHERE prefix = $1"#,
        prefix,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(ApiKeyRow::from))
}

/// Lists a merchant's keys, newest first, after an optional cursor id.
pub async fn list(
    conn: &mut PgConnection,
    merchant: MerchantId,
    before: Option<ApiKeyId>,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, StoreError> {
    let rows = sqlx::query_as!(
        DbApiKey,
        r#"SELECT id, merchant_id, name, prefix, secret_digest, scopes, created_at, revoked_at
             FROM platform.api_keys
            WHERE merchant_id = $1 AND ($2::uuid IS NULL OR id < $2)
            ORDER BY id DESC LIMIT $3"#,
        merchant.as_uuid(),
        before.map(|b| b.as_uuid()),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(ApiKeyRow::from).collect())
}

/// Revokes a key of this merchant; another merchant's key is "not found".
pub async fn revoke(conn: &mut PgConnection, merchant: MerchantId, id: ApiKeyId) -> Result<(), StoreError> {
    let done = sqlx::query!(
        "UPDATE platform.api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND merchant_id = $2",
        id.as_uuid(),
        merchant.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("api key"));
    }
    Ok(())
}
