//! Settlement: cleared and approved payouts become PayoutRouter batches, and the chain's answer
//! comes back to them.
//!
//! `settle_ready` locks ready payouts of one asset, asks the compliance signer for an EIP-712
//! attestation over the packed items and the hash of their decisions, and queues one chain
//! intent per batch, all in one transaction with the payouts' move to `submitted`. The chain
//! layer signs and sends the intent exactly once. `follow` reads the intents back: mined moves
//! the payouts to `confirmed`, final posts each hold (reserved to chain clearing plus the
//! platform fee) and books the gas, a revert voids each hold exactly once with the reason.
//! Both are state-driven, so a crash anywhere is repaired by the next round.

use crate::{db, payouts::emit};
use alloy_primitives::{Address, B256, FixedBytes, U256, keccak256};
use corridor_chain::{
    router::{BatchAttestation, BatchItem, batch_gas_limit, pack_items},
    signer::DigestSigner,
    store::{self as chain_store, NewIntent, hex_lower},
};
use corridor_domain::{
    AssetCode, AssetRegistry, Money,
    ids::{HoldId, MerchantId, PayoutId},
};
use corridor_ledger::{AccountKey, EntryDraft, Purpose};
use corridor_store::{StoreError, ledger};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::{str::FromStr, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The router's batch limit is the block's gas; 200 items stay far below 30M gas.
pub const ITEMS_PER_TX_MAX: usize = 200;
/// Assets settled per round (each is its own transaction).
const ASSETS_PER_ROUND_MAX: i64 = 16;
/// Settlements followed per round.
const FOLLOW_PER_ROUND_MAX: usize = 100;

#[derive(Clone)]
pub struct SettlementConfig {
    pub chain_id: u64,
    pub router: Address,
    /// The submitter's address: the chain layer sends the intents from it.
    pub sender: Address,
    /// The compliance signer the router trusts.
    pub attester: Arc<dyn DigestSigner>,
    pub items_per_tx_max: usize,
    /// How long an attestation stays valid: past it the router refuses the batch, so a queue
    /// that stalled for a day cannot pay out stale decisions.
    pub attestation_ttl: Duration,
    pub poll_interval: Duration,
}

impl SettlementConfig {
    pub fn new(chain_id: u64, router: Address, sender: Address, attester: Arc<dyn DigestSigner>) -> Self {
        Self {
            chain_id,
            router,
            sender,
            attester,
            items_per_tx_max: ITEMS_PER_TX_MAX,
            attestation_ttl: Duration::from_secs(24 * 3600),
            poll_interval: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the compliance signer failed: {0}")]
    Attestation(String),
    #[error("settlement {0}")]
    Invalid(String),
}

impl From<sqlx::Error> for SettleError {
    fn from(e: sqlx::Error) -> Self {
        SettleError::Store(e.into())
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SettleReport {
    pub settlements: u64,
    pub payouts: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FollowReport {
    pub confirmed: u64,
    pub completed: u64,
    pub failed: u64,
}

pub struct Settler {
    pool: PgPool,
    registry: AssetRegistry,
    config: SettlementConfig,
}

struct Ready {
    id: Uuid,
    recipient: String,
    amount: Decimal,
    decision_hash: Option<String>,
}

impl Settler {
    pub fn new(pool: PgPool, registry: AssetRegistry, config: SettlementConfig) -> Self {
        Self { pool, registry, config }
    }

    fn chain(&self) -> i64 {
        self.config.chain_id as i64
    }

    /// Queues one attested batch per asset with ready payouts (up to the item limit each).
    pub async fn settle_ready(&self) -> Result<SettleReport, SettleError> {
        let mut report = SettleReport::default();
        let sender = hex_lower(self.config.sender);
        let registered: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM chain.senders WHERE chain_id = $1 AND address = $2) AS "e!""#,
            self.chain(),
            sender,
        )
        .fetch_one(&self.pool)
        .await?;
        if !registered {
            // The submitter registers its address with its on-chain nonce when it starts;
            // until then nothing can be queued for it.
            return Ok(report);
        }
        let assets: Vec<String> = sqlx::query_scalar!(
            r#"SELECT DISTINCT asset FROM payouts.payouts
                WHERE status IN ('cleared', 'approved') AND chain_id = $1 LIMIT $2"#,
            self.chain(),
            ASSETS_PER_ROUND_MAX,
        )
        .fetch_all(&self.pool)
        .await?;
        for asset in assets {
            let mut tx = self.pool.begin().await?;
            let paid = self.settle_asset(&mut tx, &asset, &sender).await?;
            tx.commit().await?;
            if paid > 0 {
                report.settlements += 1;
                report.payouts += paid;
            }
        }
        Ok(report)
    }

    async fn settle_asset(&self, conn: &mut PgConnection, asset: &str, sender: &str) -> Result<u64, SettleError> {
        let code = AssetCode::parse(asset).map_err(|e| SettleError::Invalid(e.to_string()))?;
        let deployment = self
            .registry
            .deployment(&code, self.config.chain_id)
            .map_err(|e| SettleError::Invalid(e.to_string()))?
            .clone();
        let asset_def = self
            .registry
            .get(asset)
            .map_err(|e| SettleError::Invalid(e.to_string()))?
            .clone();
        let rows = sqlx::query_as!(
            Ready,
            r#"SELECT id, recipient, amount, decision_hash FROM payouts.payouts
                WHERE status IN ('cleared', 'approved') AND chain_id = $1 AND asset = $2
                ORDER BY updated_at, id LIMIT $3
                FOR UPDATE SKIP LOCKED"#,
            self.chain(),
            asset,
            self.config.items_per_tx_max as i64,
        )
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut items = Vec::with_capacity(rows.len());
        let mut decisions = Vec::with_capacity(rows.len() * 32);
        for r in &rows {
            let recipient = Address::from_str(&r.recipient).map_err(|e| SettleError::Invalid(e.to_string()))?;
            let amount = Money::new(r.amount, &asset_def)
                .and_then(|m| m.to_base_units(deployment.decimals))
                .map_err(|e| SettleError::Invalid(format!("payout {}: {e}", r.id)))?;
            let hash = r
                .decision_hash
                .as_deref()
                .and_then(|h| B256::from_str(h).ok())
                .ok_or_else(|| SettleError::Invalid(format!("payout {} has no screening decision", r.id)))?;
            decisions.extend_from_slice(hash.as_slice());
            items.push(BatchItem {
                payout_id: FixedBytes::<16>::from(*r.id.as_bytes()),
                recipient,
                amount,
            });
        }
        let packed = pack_items(&items).map_err(|e| SettleError::Invalid(e.to_string()))?;
        // One hash for the batch: the items' decision hashes in item order.
        let decision_hash = keccak256(&decisions);
        let nonce: i64 = sqlx::query_scalar!(r#"SELECT nextval('payouts.attestation_nonce') AS "n!""#)
            .fetch_one(&mut *conn)
            .await?;
        let expires_at = chrono::Utc::now()
            + chrono::Duration::from_std(self.config.attestation_ttl)
                .map_err(|e| SettleError::Invalid(e.to_string()))?;
        let attestation = BatchAttestation {
            chain_id: self.config.chain_id,
            router: self.config.router,
            token: deployment.token.as_alloy(),
            items: packed,
            nonce: U256::from(nonce as u64),
            expiry: U256::from(expires_at.timestamp() as u64),
            decision_hash,
        };
        let calldata = attestation
            .sign_into_calldata(self.config.attester.as_ref())
            .map_err(SettleError::Attestation)?;
        let settlement = Uuid::now_v7();
        let intent = Uuid::now_v7();
        let purpose = format!("payout-settlement:{settlement}");
        let router = hex_lower(self.config.router);
        chain_store::insert_intent(
            conn,
            NewIntent {
                id: intent,
                chain_id: self.config.chain_id,
                sender,
                purpose: &purpose,
                to: &router,
                calldata: &calldata,
                gas_limit: batch_gas_limit(items.len()),
            },
        )
        .await?;
        sqlx::query!(
            r#"INSERT INTO payouts.settlements
                   (id, chain_id, asset, token, router, attestation_nonce, expires_at, decision_hash, item_count, intent_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
            settlement,
            self.chain(),
            asset,
            deployment.token.to_lowercase_hex(),
            router,
            nonce,
            expires_at,
            format!("{decision_hash:#x}"),
            rows.len() as i32,
            intent,
        )
        .execute(&mut *conn)
        .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let updated = db::set_submitted(conn, &ids, settlement).await?;
        let detail = json!({ "settlement_id": settlement, "attestation_nonce": nonce,
                             "decision_hash": format!("{decision_hash:#x}"), "items": rows.len() });
        for row in updated {
            let id = PayoutId::from_uuid(row.id);
            db::append_timeline(conn, id, "signed", &detail).await?;
            let merchant = MerchantId::from_uuid(row.merchant_id);
            emit(conn, merchant, "payout.submitted", row.into()).await?;
        }
        tracing::info!(%settlement, asset, items = rows.len(), nonce, "payout batch attested and queued");
        Ok(rows.len() as u64)
    }

    /// Moves settlements along with their intents: mined, final, or failed.
    pub async fn follow(&self) -> Result<FollowReport, SettleError> {
        let mut report = FollowReport::default();
        // One settlement per transaction: its ledger entries, statuses and events commit
        // together, and a large backlog neither builds one huge transaction nor waits on it.
        for _ in 0..FOLLOW_PER_ROUND_MAX {
            let mut tx = self.pool.begin().await?;
            let Some(s) = sqlx::query!(
                r#"SELECT s.id, s.status, s.asset, i.status AS intent_status, i.mined_tx_hash, i.mined_block,
                          i.failure_reason, i.gas_used, i.effective_gas_price
                     FROM payouts.settlements s JOIN chain.intents i ON i.id = s.intent_id
                    WHERE s.status IN ('submitted', 'confirmed') AND s.chain_id = $1
                      AND (i.status IN ('final', 'failed') OR (i.status = 'mined' AND s.status = 'submitted'))
                    ORDER BY s.created_at LIMIT 1
                    FOR UPDATE OF s SKIP LOCKED"#,
                self.chain(),
            )
            .fetch_optional(&mut *tx)
            .await?
            else {
                break;
            };
            let gas_wei = match (s.gas_used, s.effective_gas_price) {
                (Some(used), Some(price)) => Some(
                    Decimal::from(used)
                        .checked_mul(price)
                        .ok_or_else(|| SettleError::Invalid(format!("gas {used} x {price} overflows")))?,
                ),
                _ => None,
            };
            let tx_hash = s.mined_tx_hash.clone().unwrap_or_default();
            match s.intent_status.as_str() {
                "failed" => {
                    let reason = s.failure_reason.unwrap_or_else(|| "the transaction failed".into());
                    self.book_gas(&mut tx, s.id, gas_wei).await?;
                    report.failed += self.fail(&mut tx, s.id, &tx_hash, &reason).await?;
                }
                status => {
                    if s.status == "submitted" {
                        report.confirmed += self.confirm(&mut tx, s.id, &tx_hash, s.mined_block).await?;
                    }
                    if status == "final" {
                        self.book_gas(&mut tx, s.id, gas_wei).await?;
                        report.completed += self.complete(&mut tx, s.id, &s.asset).await?;
                    }
                }
            }
            tx.commit().await?;
        }
        Ok(report)
    }

    async fn confirm(
        &self,
        conn: &mut PgConnection,
        settlement: Uuid,
        tx_hash: &str,
        block: Option<i64>,
    ) -> Result<u64, SettleError> {
        sqlx::query!(
            "UPDATE payouts.settlements SET status = 'confirmed', tx_hash = $2, updated_at = now() WHERE id = $1",
            settlement,
            tx_hash,
        )
        .execute(&mut *conn)
        .await?;
        let rows = db::settle_step(conn, settlement, "submitted", "confirmed", Some(tx_hash)).await?;
        for row in &rows {
            let id = PayoutId::from_uuid(row.id);
            db::append_timeline(conn, id, "mined", &json!({ "tx_hash": tx_hash, "block": block })).await?;
            emit(
                conn,
                MerchantId::from_uuid(row.merchant_id),
                "payout.confirmed",
                row.clone().into(),
            )
            .await?;
        }
        Ok(rows.len() as u64)
    }

    /// Final: each hold is posted to chain clearing (the amount) and platform fees (the fee).
    /// A quoted payout's hold is in the source asset: its entry converts through the FX
    /// account, source in and target out at the quote's rate, so each asset balances on its own.
    async fn complete(&self, conn: &mut PgConnection, settlement: Uuid, asset: &str) -> Result<u64, SettleError> {
        let invalid = |e: &dyn std::fmt::Display| SettleError::Invalid(e.to_string());
        let paid = self.registry.get(asset).map_err(|e| invalid(&e))?.clone();
        sqlx::query!(
            "UPDATE payouts.settlements SET status = 'completed', updated_at = now() WHERE id = $1",
            settlement,
        )
        .execute(&mut *conn)
        .await?;
        let rows = db::settle_step(conn, settlement, "confirmed", "completed", None).await?;
        for row in &rows {
            let id = PayoutId::from_uuid(row.id);
            let debit = self.registry.get(&row.debit_asset).map_err(|e| invalid(&e))?.clone();
            let in_paid = Money::new(row.amount, &paid).map_err(|e| invalid(&e))?;
            let in_debit = |d: Decimal| Money::new(d, &debit).map_err(|e| invalid(&e));
            let mut destinations = vec![(
                AccountKey::platform(paid.code.clone(), Purpose::ChainClearing),
                in_paid.clone(),
            )];
            if row.quote_id.is_some() {
                destinations.push((
                    AccountKey::platform(debit.code.clone(), Purpose::Fx),
                    in_debit(row.debit_amount)?,
                ));
                destinations.push((AccountKey::platform(paid.code.clone(), Purpose::Fx), in_paid.negated()));
            }
            if !row.fee.is_zero() {
                destinations.push((
                    AccountKey::platform(debit.code.clone(), Purpose::PlatformFees),
                    in_debit(row.fee)?,
                ));
            }
            ledger::post_hold(
                conn,
                HoldId::from_uuid(row.hold_id),
                &destinations,
                &format!("payout {id} final"),
                &self.registry,
            )
            .await?;
            db::append_timeline(conn, id, "final", &json!({ "tx_hash": row.tx_hash })).await?;
            emit(
                conn,
                MerchantId::from_uuid(row.merchant_id),
                "payout.completed",
                row.clone().into(),
            )
            .await?;
        }
        Ok(rows.len() as u64)
    }

    /// A reverted batch: every hold goes back to available exactly once, and the merchant is
    /// told why.
    async fn fail(
        &self,
        conn: &mut PgConnection,
        settlement: Uuid,
        tx_hash: &str,
        reason: &str,
    ) -> Result<u64, SettleError> {
        sqlx::query!(
            "UPDATE payouts.settlements SET status = 'failed', tx_hash = NULLIF($2, ''), updated_at = now() WHERE id = $1",
            settlement,
            tx_hash,
        )
        .execute(&mut *conn)
        .await?;
        let ids = db::settlement_payouts(conn, settlement).await?;
        let mut failed = 0;
        for (id, hold) in ids {
            let pid = PayoutId::from_uuid(id);
            ledger::void_hold(
                conn,
                HoldId::from_uuid(hold),
                &format!("payout {pid} failed on chain"),
                &self.registry,
            )
            .await?;
            let row = db::fail_settled(
                conn,
                pid,
                "transfer_failed",
                reason,
                (!tx_hash.is_empty()).then_some(tx_hash),
            )
            .await?;
            db::append_timeline(
                conn,
                pid,
                "failed",
                &json!({ "reason": reason, "tx_hash": row.tx_hash }),
            )
            .await?;
            emit(
                conn,
                MerchantId::from_uuid(row.merchant_id),
                "payout.failed",
                row.into(),
            )
            .await?;
            failed += 1;
        }
        Ok(failed)
    }

    /// Books what the transaction cost in the chain's native asset, once per settlement, and
    /// shows each payout its share.
    async fn book_gas(
        &self,
        conn: &mut PgConnection,
        settlement: Uuid,
        gas_wei: Option<Decimal>,
    ) -> Result<(), SettleError> {
        let Some(gas_wei) = gas_wei else { return Ok(()) };
        let first = sqlx::query_scalar!(
            r#"UPDATE payouts.settlements SET gas_wei = $2 WHERE id = $1 AND gas_wei IS NULL RETURNING item_count"#,
            settlement,
            gas_wei,
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(items) = first else { return Ok(()) };
        if gas_wei.is_zero() {
            return Ok(());
        }
        let native = self
            .registry
            .native_asset(self.config.chain_id)
            .map_err(|e| SettleError::Invalid(e.to_string()))?
            .clone();
        let units = U256::from(u128::try_from(gas_wei).map_err(|_| SettleError::Invalid(format!("gas {gas_wei}")))?);
        let cost = Money::from_base_units(units, native.scale as u8, &native)
            .map_err(|e| SettleError::Invalid(e.to_string()))?;
        let entry = EntryDraft::transfer(
            "network_fee",
            format!("gas for payout settlement {settlement}"),
            AccountKey::platform(native.code.clone(), Purpose::NetworkFees),
            AccountKey::platform(native.code.clone(), Purpose::ChainClearing),
            cost.clone(),
        );
        ledger::post_entry(conn, &entry, &self.registry).await?;
        // Each payout shows an equal share; the first carries the remainder of the division.
        let items = U256::from(items as u64);
        let in_native = |wei: U256| {
            Money::from_base_units(wei, native.scale as u8, &native)
                .map(|m| m.amount())
                .map_err(|e| SettleError::Invalid(e.to_string()))
        };
        db::set_gas_shares(conn, settlement, in_native(units / items)?, in_native(units % items)?).await?;
        Ok(())
    }

    /// Runs screening-independent settlement rounds until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.settle_ready().await {
                tracing::error!(error = %e, "payout settlement round failed; retrying");
            }
            if let Err(e) = self.follow().await {
                tracing::error!(error = %e, "following payout settlements failed; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }
}
