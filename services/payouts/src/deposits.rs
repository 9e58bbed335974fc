//! Direct deposits: a merchant funds its balance by sending stablecoins from its own wallet to
//! the treasury. The wallet is registered first (`POST /v1/funding-wallets`) with an EIP-191
//! signature proving the merchant controls it, so nobody can claim another's transfer.
//!
//! The watcher records the transfer (`chain.observations`); this job follows it:
//! - first sight: the amount shows as `incoming` (chain clearing -> the merchant's incoming);
//! - final: it is credited (incoming -> available), exactly once per observation;
//! - orphaned before finality: the incoming amount is taken back. If the transfer is mined again
//!   on the new canonical chain, that is a new observation and a new deposit.
//!
//! Only transfers observed after the wallet was registered count: older ones are the treasury's
//! to sort out (unknown deposits), not something a later registration can claim.

use alloy_primitives::Signature;
use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use corridor_domain::{
    AssetRegistry, EvmAddress, Money,
    ids::{DepositId, FundingWalletId, MerchantId},
};
use corridor_ledger::{AccountKey, EntryDraft, Purpose};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{MerchantAuth, Scope},
    pagination::{Page, PageQuery},
};
use corridor_store::{StoreError, ledger, outbox};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::str::FromStr;
use uuid::Uuid;

/// The message a wallet signs (EIP-191 `personal_sign`) to prove it belongs to the merchant.
pub fn ownership_message(merchant: MerchantId, chain_id: u64, address: &EvmAddress) -> String {
    format!("Corridor funding wallet\nMerchant: {merchant}\nChain: {chain_id}\nAddress: {address}")
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFundingWallet {
    #[schema(example = 8453)]
    pub chain_id: u64,
    /// EIP-55 checksummed or lowercase.
    pub address: String,
    /// 65-byte hex signature (EIP-191 personal_sign) by `address` over the message
    /// `Corridor funding wallet\nMerchant: <mer_...>\nChain: <chain_id>\nAddress: <EIP-55 address>`.
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FundingWalletView {
    #[schema(value_type = String, example = "fw_0190...")]
    pub id: FundingWalletId,
    pub chain_id: i64,
    /// EIP-55 checksummed.
    pub address: String,
    pub created_at: DateTime<Utc>,
}

struct WalletRow {
    id: Uuid,
    chain_id: i64,
    address: String,
    created_at: DateTime<Utc>,
}

impl From<WalletRow> for FundingWalletView {
    fn from(r: WalletRow) -> Self {
        Self {
            id: FundingWalletId::from_uuid(r.id),
            chain_id: r.chain_id,
            address: EvmAddress::parse(&r.address).map_or(r.address, |a| a.to_string()),
            created_at: r.created_at,
        }
    }
}

/// Register a wallet the merchant pays in from. Transfers from it to the treasury, observed from
/// now on, are credited to this merchant at finality. Registering the same wallet again answers
/// with the existing registration.
#[utoipa::path(post, path = "/v1/funding-wallets", tag = "merchant", request_body = CreateFundingWallet,
    security(("api_key" = [])),
    responses((status = 201, body = FundingWalletView), (status = 200, body = FundingWalletView),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_funding_wallet(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiJson(req): ApiJson<CreateFundingWallet>,
) -> Result<(StatusCode, ApiJson<FundingWalletView>), ApiError> {
    auth.require(Scope::FundingManage)?;
    crate::beneficiaries::supported_chain(&state, req.chain_id, "chain_id")?;
    let address = crate::beneficiaries::parse_address(&req.address, "address")?;
    let signature = Signature::from_str(req.signature.trim())
        .map_err(|e| ApiError::unprocessable("invalid_signature", format!("signature: {e}")))?;
    let message = ownership_message(auth.merchant_id, req.chain_id, &address);
    let signer = signature
        .recover_address_from_msg(message.as_bytes())
        .map_err(|e| ApiError::unprocessable("invalid_signature", format!("signature: {e}")))?;
    if signer != address.as_alloy() {
        return Err(ApiError::unprocessable(
            "invalid_signature",
            "the signature is not by this address over this merchant's funding-wallet message",
        ));
    }
    let lower = address.to_lowercase_hex();
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let inserted = sqlx::query_as!(
        WalletRow,
        r#"INSERT INTO payouts.funding_wallets (id, merchant_id, chain_id, address, signature)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain_id, address) DO NOTHING
           RETURNING id, chain_id, address, created_at"#,
        FundingWalletId::new().as_uuid(),
        auth.merchant_id.as_uuid(),
        req.chain_id as i64,
        lower,
        req.signature.trim(),
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(ApiError::internal)?;
    if let Some(row) = inserted {
        return Ok((StatusCode::CREATED, ApiJson(row.into())));
    }
    let existing = sqlx::query!(
        r#"SELECT id, merchant_id, chain_id, address, created_at FROM payouts.funding_wallets
            WHERE chain_id = $1 AND address = $2"#,
        req.chain_id as i64,
        lower,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(ApiError::internal)?;
    if existing.merchant_id != auth.merchant_id.as_uuid() {
        return Err(ApiError::conflict(
            "funding_wallet_taken",
            "this wallet is registered to another account",
        ));
    }
    let row = WalletRow {
        id: existing.id,
        chain_id: existing.chain_id,
        address: existing.address,
        created_at: existing.created_at,
    };
    Ok((StatusCode::OK, ApiJson(row.into())))
}

/// The merchant's funding wallets, newest first.
#[utoipa::path(get, path = "/v1/funding-wallets", tag = "merchant", params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<FundingWalletView>)))]
pub async fn list_funding_wallets(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<FundingWalletView>>, ApiError> {
    auth.require(Scope::BalancesRead)?;
    let (limit, cursor) = q.parse::<FundingWalletId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = sqlx::query_as!(
        WalletRow,
        r#"SELECT id, chain_id, address, created_at FROM payouts.funding_wallets
            WHERE merchant_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"#,
        auth.merchant_id.as_uuid(),
        cursor.map(|c| c.as_uuid()),
        i64::from(limit) + 1,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(ApiError::internal)?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |r| FundingWalletId::from_uuid(r.id).to_string(),
        FundingWalletView::from,
    )))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepositView {
    #[schema(value_type = String, example = "dep_0190...")]
    pub id: DepositId,
    /// incoming (seen, not final), credited (final, in the available balance), reversed (its
    /// block was orphaned before finality).
    pub status: String,
    pub asset: String,
    pub amount: String,
    pub chain_id: i64,
    pub tx_hash: String,
    #[schema(value_type = String)]
    pub funding_wallet_id: FundingWalletId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

struct DepositRow {
    id: Uuid,
    status: String,
    asset: String,
    amount: Decimal,
    chain_id: i64,
    tx_hash: String,
    wallet_id: Uuid,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<DepositRow> for DepositView {
    fn from(r: DepositRow) -> Self {
        Self {
            id: DepositId::from_uuid(r.id),
            status: r.status,
            asset: r.asset,
            amount: r.amount.to_string(),
            chain_id: r.chain_id,
            tx_hash: r.tx_hash,
            funding_wallet_id: FundingWalletId::from_uuid(r.wallet_id),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Direct deposits into the merchant's balance, newest first.
#[utoipa::path(get, path = "/v1/deposits", tag = "merchant", params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<DepositView>)))]
pub async fn list_deposits(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<DepositView>>, ApiError> {
    auth.require(Scope::BalancesRead)?;
    let (limit, cursor) = q.parse::<DepositId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = sqlx::query_as!(
        DepositRow,
        r#"SELECT id, status, asset, amount, chain_id, tx_hash, wallet_id, created_at, updated_at
             FROM payouts.deposits
            WHERE merchant_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"#,
        auth.merchant_id.as_uuid(),
        cursor.map(|c| c.as_uuid()),
        i64::from(limit) + 1,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(ApiError::internal)?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |r| DepositId::from_uuid(r.id).to_string(),
        DepositView::from,
    )))
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DepositReport {
    pub incoming: u64,
    pub credited: u64,
    pub reversed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DepositError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DepositError {
    fn from(e: sqlx::Error) -> Self {
        DepositError::Store(e.into())
    }
}

async fn emit(conn: &mut PgConnection, merchant: Uuid, event: &str, row: DepositRow) -> Result<(), StoreError> {
    let payload = serde_json::to_value(DepositView::from(row)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    outbox::enqueue(conn, Some(MerchantId::from_uuid(merchant)), event, &payload).await?;
    Ok(())
}

/// One round: records up to `limit` new deposits and moves up to `limit` open ones to credited
/// or reversed, all in one transaction.
pub async fn follow_deposits(
    pool: &PgPool,
    registry: &AssetRegistry,
    limit: i64,
) -> Result<DepositReport, DepositError> {
    let mut tx = pool.begin().await?;
    let mut report = DepositReport::default();
    // Zero-value transfers are skipped: anyone can "send" 0 from any address (address poisoning).
    let seen = sqlx::query!(
        r#"SELECT o.id, o.chain_id, o.contract, o.tx_hash, o.fields->>'value' AS "value!",
                  f.id AS wallet_id, f.merchant_id
             FROM chain.observations o
             JOIN chain.watched_addresses w
               ON w.chain_id = o.chain_id AND w.address = o.fields->>'to' AND w.label = 'treasury'
             JOIN payouts.funding_wallets f
               ON f.chain_id = o.chain_id AND f.address = o.fields->>'from' AND o.created_at >= f.created_at
            WHERE o.kind = 'erc20_transfer' AND o.status <> 'orphaned' AND o.fields->>'value' <> '0'
              AND NOT EXISTS (SELECT 1 FROM payouts.deposits d WHERE d.observation_id = o.id)
            ORDER BY o.created_at, o.id LIMIT $1"#,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    for o in seen {
        let amount = EvmAddress::parse(&o.contract)
            .ok()
            .and_then(|token| registry.by_token(o.chain_id as u64, &token).ok())
            .and_then(|d| {
                let asset = registry.get(d.asset.as_str()).ok()?;
                let units = alloy_primitives::U256::from_str(&o.value).ok()?;
                Money::from_base_units(units, d.decimals, asset).ok()
            });
        let Some(amount) = amount else {
            tracing::warn!(observation = %o.id, token = %o.contract, "deposit in a token or amount the ledger cannot hold; left for treasury");
            continue;
        };
        let inserted = sqlx::query_as!(
            DepositRow,
            r#"INSERT INTO payouts.deposits
                   (id, observation_id, merchant_id, wallet_id, chain_id, tx_hash, asset, amount, status)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'incoming')
               ON CONFLICT (observation_id) DO NOTHING
               RETURNING id, status, asset, amount, chain_id, tx_hash, wallet_id, created_at, updated_at"#,
            DepositId::new().as_uuid(),
            o.id,
            o.merchant_id,
            o.wallet_id,
            o.chain_id,
            o.tx_hash,
            amount.asset().as_str(),
            amount.amount(),
        )
        .fetch_optional(&mut *tx)
        .await?;
        // Another instance recorded it first.
        let Some(row) = inserted else { continue };
        let merchant = MerchantId::from_uuid(o.merchant_id);
        let entry = EntryDraft::transfer(
            "deposit_incoming",
            format!("deposit {} seen in {}", DepositId::from_uuid(row.id), o.tx_hash),
            AccountKey::platform(amount.asset().clone(), Purpose::ChainClearing),
            AccountKey::merchant(merchant, amount.asset().clone(), Purpose::IncomingPending),
            amount,
        );
        ledger::post_entry(&mut tx, &entry, registry).await?;
        emit(&mut tx, o.merchant_id, "deposit.incoming", row).await?;
        report.incoming += 1;
    }

    let settled = sqlx::query!(
        r#"SELECT d.id, d.merchant_id, o.status AS observation_status
             FROM payouts.deposits d JOIN chain.observations o ON o.id = d.observation_id
            WHERE d.status = 'incoming' AND o.status IN ('final', 'orphaned')
            ORDER BY d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED"#,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    for d in settled {
        let credited = d.observation_status == "final";
        let (status, event, kind) = if credited {
            ("credited", "deposit.credited", "deposit_credited")
        } else {
            ("reversed", "deposit.reversed", "deposit_reversed")
        };
        let row = sqlx::query_as!(
            DepositRow,
            r#"UPDATE payouts.deposits SET status = $2, updated_at = now() WHERE id = $1
               RETURNING id, status, asset, amount, chain_id, tx_hash, wallet_id, created_at, updated_at"#,
            d.id,
            status,
        )
        .fetch_one(&mut *tx)
        .await?;
        let asset = registry
            .get(&row.asset)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let amount = Money::new(row.amount, asset).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let merchant = MerchantId::from_uuid(d.merchant_id);
        let destination = if credited {
            AccountKey::merchant(merchant, asset.code.clone(), Purpose::Available)
        } else {
            AccountKey::platform(asset.code.clone(), Purpose::ChainClearing)
        };
        let entry = EntryDraft::transfer(
            kind,
            format!("deposit {} {status}", DepositId::from_uuid(row.id)),
            AccountKey::merchant(merchant, asset.code.clone(), Purpose::IncomingPending),
            destination,
            amount,
        );
        ledger::post_entry(&mut tx, &entry, registry).await?;
        if credited {
            report.credited += 1;
        } else {
            report.reversed += 1;
        }
        emit(&mut tx, d.merchant_id, event, row).await?;
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ownership_message_names_merchant_chain_and_checksummed_address() {
        let merchant = MerchantId::from_uuid(Uuid::nil());
        let address = EvmAddress::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").unwrap();
        assert_eq!(
            ownership_message(merchant, 8453, &address),
            "Corridor funding wallet\nMerchant: mer_00000000000000000000000000000000\nChain: 8453\nAddress: 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        );
    }
}
