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

/// A spending mandate on an API key (see migrations/*_mandates_quotes_deposits.sql).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateRow {
    pub api_key_id: uuid::Uuid,
    pub asset: String,
    pub per_payout_max: Option<rust_decimal::Decimal>,
    pub daily_budget: Option<rust_decimal::Decimal>,
    pub allowed_beneficiaries: Option<Vec<uuid::Uuid>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewMandate<'a> {
    pub asset: &'a str,
    pub per_payout_max: Option<rust_decimal::Decimal>,
    pub daily_budget: Option<rust_decimal::Decimal>,
    pub allowed_beneficiaries: Option<&'a [uuid::Uuid]>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The key's mandate. `lock` takes the row for the rest of the transaction, so the payouts a key
/// makes at the same time are counted one after the other against its budget.
pub async fn mandate(conn: &mut PgConnection, key: ApiKeyId, lock: bool) -> Result<Option<MandateRow>, StoreError> {
    let row = if lock {
        sqlx::query_as!(
            MandateRow,
            r#"SELECT api_key_id, asset, per_payout_max, daily_budget, allowed_beneficiaries, expires_at,
                      created_at, updated_at
                 FROM platform.api_key_mandates WHERE api_key_id = $1 FOR UPDATE"#,
            key.as_uuid(),
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            MandateRow,
            r#"SELECT api_key_id, asset, per_payout_max, daily_budget, allowed_beneficiaries, expires_at,
                      created_at, updated_at
                 FROM platform.api_key_mandates WHERE api_key_id = $1"#,
            key.as_uuid(),
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row)
}

/// Sets (or replaces) the mandate of one of the merchant's live keys.
pub async fn set_mandate(
    conn: &mut PgConnection,
    merchant: MerchantId,
    key: ApiKeyId,
    m: NewMandate<'_>,
) -> Result<MandateRow, StoreError> {
    let row = sqlx::query_as!(
        MandateRow,
        r#"INSERT INTO platform.api_key_mandates
               (api_key_id, asset, per_payout_max, daily_budget, allowed_beneficiaries, expires_at)
           SELECT k.id, $3, $4, $5, $6, $7 FROM platform.api_keys k
            WHERE k.id = $1 AND k.merchant_id = $2 AND k.revoked_at IS NULL
           ON CONFLICT (api_key_id) DO UPDATE SET
               asset = EXCLUDED.asset, per_payout_max = EXCLUDED.per_payout_max,
               daily_budget = EXCLUDED.daily_budget, allowed_beneficiaries = EXCLUDED.allowed_beneficiaries,
               expires_at = EXCLUDED.expires_at, updated_at = now()
           RETURNING api_key_id, asset, per_payout_max, daily_budget, allowed_beneficiaries, expires_at,
                     created_at, updated_at"#,
        key.as_uuid(),
        merchant.as_uuid(),
        m.asset,
        m.per_payout_max,
        m.daily_budget,
        m.allowed_beneficiaries,
        m.expires_at,
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(StoreError::NotFound("api key"))
}

/// Whether `key` belongs to the merchant (revoked or not).
pub async fn belongs_to(conn: &mut PgConnection, merchant: MerchantId, key: ApiKeyId) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM platform.api_keys WHERE id = $1 AND merchant_id = $2) AS "e!""#,
        key.as_uuid(),
        merchant.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// Lifts a key's mandate; the routes let only an unmandated key do it.
pub async fn delete_mandate(conn: &mut PgConnection, merchant: MerchantId, key: ApiKeyId) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        r#"DELETE FROM platform.api_key_mandates m USING platform.api_keys k
            WHERE m.api_key_id = k.id AND k.id = $1 AND k.merchant_id = $2"#,
        key.as_uuid(),
        merchant.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
