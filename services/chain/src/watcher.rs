//! The watcher: follows a chain block by block, records the logs Corridor cares about, detects
//! reorgs by block hash, and announces every change in the outbox:
//! `chain.observation.seen` / `.finalized` / `.reorged` for token transfers, invoice payments and
//! payout executions, and `chain.transfer.confirmed` / `.finalized` / `.reorged` for the
//! submitter's intents. An intent whose block was orphaned goes back to `pending`, so the
//! submitter sends the same signed bytes again: the transfer ends up on the canonical chain once.

use crate::{
    RPC_TIMEOUT,
    bindings::{InvoicePayments, TestStablecoin},
    config::Finality,
    store::hex_lower,
};
use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
};
use corridor_store::{StoreError, outbox};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::{str::FromStr, time::Duration};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct WatcherConfig {
    pub chain_id: u64,
    pub finality: Finality,
    /// Blocks scanned per round.
    pub blocks_per_round_max: u64,
    /// How far back a reorg is followed; deeper ones stop the watcher for an operator.
    pub reorg_depth_max: u64,
    pub poll_interval: Duration,
}

impl WatcherConfig {
    pub fn new(chain_id: u64, finality: Finality) -> Self {
        Self {
            chain_id,
            finality,
            blocks_per_round_max: 100,
            reorg_depth_max: 64,
            poll_interval: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("RPC: {0}")]
    Rpc(String),
    #[error("reorg deeper than {0} blocks: an operator must look")]
    ReorgTooDeep(u64),
}

impl From<sqlx::Error> for WatchError {
    fn from(e: sqlx::Error) -> Self {
        WatchError::Store(e.into())
    }
}

async fn rpc<T, E: std::fmt::Display>(fut: impl IntoFuture<Output = Result<T, E>>) -> Result<T, WatchError> {
    match tokio::time::timeout(RPC_TIMEOUT, fut.into_future()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(WatchError::Rpc(e.to_string())),
        Err(_) => Err(WatchError::Rpc(format!("no answer within {RPC_TIMEOUT:?}"))),
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchReport {
    pub blocks: u64,
    pub observed: u64,
    pub finalized: u64,
    pub orphaned_blocks: u64,
}

/// The advisory lock that serialises watchers of one chain across processes.
pub fn watcher_lock_key(chain_id: u64) -> String {
    format!("corridor.watcher:{chain_id}")
}

pub struct Watcher {
    pool: PgPool,
    provider: DynProvider,
    config: WatcherConfig,
}

/// Registers a contract whose logs the watcher records.
pub async fn watch_contract(
    conn: &mut PgConnection,
    chain_id: u64,
    address: Address,
    kind: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO chain.watched_contracts (chain_id, address, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        chain_id as i64,
        hex_lower(address),
        kind,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Registers an address whose incoming and outgoing token transfers are recorded.
pub async fn watch_address(
    conn: &mut PgConnection,
    chain_id: u64,
    address: Address,
    label: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO chain.watched_addresses (chain_id, address, label) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        chain_id as i64,
        hex_lower(address),
        label,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

struct Decoded {
    kind: &'static str,
    fields: serde_json::Value,
}

fn decode(log: &Log, contract_kind: &str, watched: &[String]) -> Option<Decoded> {
    match contract_kind {
        "erc20" => {
            let ev = log.log_decode::<TestStablecoin::Transfer>().ok()?.inner.data;
            let (from, to) = (hex_lower(ev.from), hex_lower(ev.to));
            (watched.contains(&from) || watched.contains(&to)).then(|| Decoded {
                kind: "erc20_transfer",
                fields: json!({ "from": from, "to": to, "value": ev.value.to_string() }),
            })
        }
        "invoice_payments" => {
            let ev = log.log_decode::<InvoicePayments::InvoicePaid>().ok()?.inner.data;
            Some(Decoded {
                kind: "invoice_paid",
                fields: json!({
                    "reference": hex_lower(ev.paymentRef), "payer": hex_lower(ev.payer),
                    "token": hex_lower(ev.token), "amount": ev.amount.to_string(),
                }),
            })
        }
        "payout_router" => {
            let ev = crate::router::decode_executed(log.topics(), &log.data().data)?;
            Some(Decoded {
                kind: "payout_executed",
                fields: json!({ "payout_id": hex_lower(ev.payout_id), "decision_hash": hex_lower(ev.decision_hash) }),
            })
        }
        _ => None,
    }
}

impl Watcher {
    pub fn new(pool: PgPool, provider: DynProvider, config: WatcherConfig) -> Self {
        Self { pool, provider, config }
    }

    fn chain(&self) -> i64 {
        self.config.chain_id as i64
    }

    async fn block_hash_at(&self, number: u64) -> Result<Option<(String, String)>, WatchError> {
        let block = rpc(self.provider.get_block_by_number(BlockNumberOrTag::Number(number))).await?;
        Ok(block.map(|b| (hex_lower(b.header.hash), hex_lower(b.header.parent_hash))))
    }

    /// The height below which blocks are final.
    async fn final_height(&self, head: u64) -> Result<Option<u64>, WatchError> {
        match self.config.finality {
            // Final once it has `depth` confirmations (its own block counts as the first).
            Finality::Depth(depth) => Ok((head + 1).checked_sub(depth.max(1))),
            Finality::FinalizedTag => {
                let b = rpc(self.provider.get_block_by_number(BlockNumberOrTag::Finalized)).await?;
                Ok(b.map(|b| b.header.number))
            }
        }
    }

    /// Finds the highest stored canonical block the node still agrees with; everything above it
    /// is orphaned: blocks flagged, observations marked, mined intents sent back to pending.
    async fn handle_reorg(&self, cursor: u64, report: &mut WatchReport) -> Result<u64, WatchError> {
        let mut height = cursor;
        for _ in 0..=self.config.reorg_depth_max {
            let Some(below) = height.checked_sub(1) else {
                return Ok(height);
            };
            let stored: Option<String> = sqlx::query_scalar!(
                "SELECT hash FROM chain.blocks WHERE chain_id = $1 AND number = $2 AND canonical",
                self.chain(),
                below as i64,
            )
            .fetch_optional(&self.pool)
            .await?;
            let Some(stored) = stored else { return Ok(height) };
            let on_node = self.block_hash_at(below).await?.map(|(h, _)| h);
            if on_node.as_deref() == Some(stored.as_str()) {
                if height != cursor {
                    self.orphan_from(height, report).await?;
                }
                return Ok(height);
            }
            height = below;
        }
        Err(WatchError::ReorgTooDeep(self.config.reorg_depth_max))
    }

    async fn orphan_from(&self, first_orphan: u64, report: &mut WatchReport) -> Result<(), WatchError> {
        let mut tx = self.pool.begin().await?;
        let orphaned = sqlx::query!(
            r#"UPDATE chain.blocks SET canonical = false
                WHERE chain_id = $1 AND number >= $2 AND canonical RETURNING hash"#,
            self.chain(),
            first_orphan as i64,
        )
        .fetch_all(&mut *tx)
        .await?;
        report.orphaned_blocks += orphaned.len() as u64;
        let hashes: Vec<String> = orphaned.into_iter().map(|r| r.hash).collect();
        let observations = sqlx::query!(
            r#"UPDATE chain.observations SET status = 'orphaned', orphaned_at = now()
                WHERE chain_id = $1 AND block_hash = ANY($2) AND status <> 'orphaned'
               RETURNING id, kind, tx_hash, block_number, fields"#,
            self.chain(),
            &hashes,
        )
        .fetch_all(&mut *tx)
        .await?;
        for o in observations {
            let payload = json!({ "observation_id": o.id, "kind": o.kind, "tx_hash": o.tx_hash,
                                  "block_number": o.block_number, "fields": o.fields, "chain_id": self.config.chain_id });
            outbox::enqueue(&mut tx, None, "chain.observation.reorged", &payload).await?;
        }
        let intents = sqlx::query!(
            r#"UPDATE chain.intents SET status = 'pending', mined_tx_hash = NULL, mined_block = NULL, updated_at = now()
                WHERE chain_id = $1 AND status IN ('mined', 'failed') AND mined_block >= $2
               RETURNING id, purpose"#,
            self.chain(),
            first_orphan as i64,
        )
        .fetch_all(&mut *tx)
        .await?;
        for i in intents {
            outbox::enqueue(
                &mut tx,
                None,
                "chain.transfer.reorged",
                &json!({ "intent_id": i.id, "purpose": i.purpose }),
            )
            .await?;
        }
        sqlx::query!(
            "UPDATE chain.cursors SET next_block = $2 WHERE chain_id = $1",
            self.chain(),
            first_orphan as i64
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(
            chain_id = self.config.chain_id,
            from = first_orphan,
            "reorg: later blocks orphaned"
        );
        Ok(())
    }

    /// Records one block and its relevant logs in one transaction. Returns false if the block
    /// does not extend the stored canonical chain (a reorg the next round will handle).
    async fn ingest(&self, number: u64, report: &mut WatchReport) -> Result<bool, WatchError> {
        let Some((hash, parent)) = self.block_hash_at(number).await? else {
            return Ok(false);
        };
        let mut tx = self.pool.begin().await?;
        if let Some(below) = number.checked_sub(1) {
            let stored: Option<String> = sqlx::query_scalar!(
                "SELECT hash FROM chain.blocks WHERE chain_id = $1 AND number = $2 AND canonical",
                self.chain(),
                below as i64,
            )
            .fetch_optional(&mut *tx)
            .await?;
            if stored.is_some_and(|s| s != parent) {
                return Ok(false);
            }
        }
        sqlx::query!(
            r#"INSERT INTO chain.blocks (chain_id, number, hash, parent_hash) VALUES ($1, $2, $3, $4)
               ON CONFLICT (chain_id, hash) DO UPDATE SET canonical = true"#,
            self.chain(),
            number as i64,
            hash,
            parent,
        )
        .execute(&mut *tx)
        .await?;
        let contracts = sqlx::query!(
            "SELECT address, kind FROM chain.watched_contracts WHERE chain_id = $1",
            self.chain()
        )
        .fetch_all(&mut *tx)
        .await?;
        let watched: Vec<String> = sqlx::query_scalar!(
            "SELECT address FROM chain.watched_addresses WHERE chain_id = $1",
            self.chain()
        )
        .fetch_all(&mut *tx)
        .await?;
        if !contracts.is_empty() {
            let addresses: Vec<Address> = contracts
                .iter()
                .filter_map(|c| Address::from_str(&c.address).ok())
                .collect();
            let block_hash = B256::from_str(&hash).map_err(|e| WatchError::Rpc(e.to_string()))?;
            let filter = Filter::new().at_block_hash(block_hash).address(addresses);
            let logs = rpc(self.provider.get_logs(&filter)).await?;
            for log in logs {
                let contract = hex_lower(log.address());
                let Some(kind) = contracts
                    .iter()
                    .find(|c| c.address == contract)
                    .map(|c| c.kind.as_str())
                else {
                    continue;
                };
                let Some(decoded) = decode(&log, kind, &watched) else {
                    continue;
                };
                let tx_hash = log.transaction_hash.map(hex_lower).unwrap_or_default();
                let log_index = log.log_index.unwrap_or_default() as i32;
                let id = Uuid::now_v7();
                let inserted = sqlx::query!(
                    r#"INSERT INTO chain.observations (id, chain_id, block_number, block_hash, tx_hash, log_index, contract, kind, fields)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"#,
                    id,
                    self.chain(),
                    number as i64,
                    hash,
                    tx_hash,
                    log_index,
                    contract,
                    decoded.kind,
                    decoded.fields,
                )
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 1 {
                    let payload = json!({ "observation_id": id, "kind": decoded.kind, "tx_hash": tx_hash,
                        "block_number": number, "contract": contract, "fields": decoded.fields, "chain_id": self.config.chain_id });
                    outbox::enqueue(&mut tx, None, "chain.observation.seen", &payload).await?;
                    report.observed += 1;
                }
            }
        }
        sqlx::query!(
            r#"INSERT INTO chain.cursors (chain_id, next_block) VALUES ($1, $2)
               ON CONFLICT (chain_id) DO UPDATE SET next_block = EXCLUDED.next_block"#,
            self.chain(),
            number as i64 + 1,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        report.blocks += 1;
        Ok(true)
    }

    /// Marks what is now final (and still canonical), announcing each.
    async fn finalize(&self, final_height: u64, report: &mut WatchReport) -> Result<(), WatchError> {
        let mut tx = self.pool.begin().await?;
        let finalized = sqlx::query!(
            r#"UPDATE chain.observations o SET status = 'final', finalized_at = now()
                 FROM chain.blocks b
                WHERE o.chain_id = $1 AND o.status = 'seen' AND o.block_number <= $2
                  AND b.chain_id = o.chain_id AND b.hash = o.block_hash AND b.canonical
               RETURNING o.id, o.kind, o.tx_hash, o.block_number, o.fields"#,
            self.chain(),
            final_height as i64,
        )
        .fetch_all(&mut *tx)
        .await?;
        for o in &finalized {
            let payload = json!({ "observation_id": o.id, "kind": o.kind, "tx_hash": o.tx_hash,
                                  "block_number": o.block_number, "fields": o.fields, "chain_id": self.config.chain_id });
            outbox::enqueue(&mut tx, None, "chain.observation.finalized", &payload).await?;
        }
        // Intents the watcher has already scanned past (their block is stored as canonical).
        let intents = sqlx::query!(
            r#"UPDATE chain.intents i SET status = 'final', updated_at = now()
                 FROM chain.blocks b
                WHERE i.chain_id = $1 AND i.status = 'mined' AND i.mined_block <= $2
                  AND b.chain_id = i.chain_id AND b.number = i.mined_block AND b.canonical
               RETURNING i.id, i.purpose, i.mined_tx_hash, extract(epoch FROM now() - i.created_at)::bigint AS "age!""#,
            self.chain(),
            final_height as i64,
        )
        .fetch_all(&mut *tx)
        .await?;
        for i in &intents {
            metrics::histogram!("chain_intent_to_finality_seconds").record(i.age as f64);
            let payload = json!({ "intent_id": i.id, "purpose": i.purpose, "tx_hash": i.mined_tx_hash });
            outbox::enqueue(&mut tx, None, "chain.transfer.finalized", &payload).await?;
        }
        tx.commit().await?;
        report.finalized += (finalized.len() + intents.len()) as u64;
        Ok(())
    }

    /// Where a first start begins: the current head, or the oldest block holding one of our
    /// mined, not yet final transfers, so none of them waits for a block never stored.
    async fn first_block(&self, head: u64) -> Result<u64, WatchError> {
        let oldest: Option<i64> = sqlx::query_scalar!(
            "SELECT min(mined_block) FROM chain.intents WHERE chain_id = $1 AND status = 'mined'",
            self.chain(),
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(oldest.map_or(head, |b| (b as u64).min(head)))
    }

    /// One bounded round: handle a reorg if there is one, scan new blocks, finalize.
    /// One round. Replicas of the chain service take turns: a round runs only while its process
    /// holds the chain's advisory lock, so two watchers never ingest the same blocks at once. A
    /// round that finds the lock taken does nothing (`WatchReport::default()`).
    pub async fn tick(&self) -> Result<WatchReport, WatchError> {
        let mut lock = self.pool.acquire().await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(watcher_lock_key(self.config.chain_id))
            .fetch_one(&mut *lock)
            .await?;
        if !held {
            return Ok(WatchReport::default());
        }
        let round = self.round().await;
        let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
            .bind(watcher_lock_key(self.config.chain_id))
            .fetch_one(&mut *lock)
            .await;
        if !matches!(unlocked, Ok(true)) {
            // Never hand a connection that may still hold the lock back to the pool: closing
            // the session releases it.
            drop(lock.detach());
        }
        round
    }

    async fn round(&self) -> Result<WatchReport, WatchError> {
        let mut report = WatchReport::default();
        let head = rpc(self.provider.get_block_number()).await?;
        let stored: Option<i64> =
            sqlx::query_scalar!("SELECT next_block FROM chain.cursors WHERE chain_id = $1", self.chain())
                .fetch_optional(&self.pool)
                .await?;
        let mut next = match stored {
            Some(n) => self.handle_reorg(n as u64, &mut report).await?,
            None => self.first_block(head).await?,
        };
        let last = head.min(next + self.config.blocks_per_round_max - 1);
        while next <= last {
            if !self.ingest(next, &mut report).await? {
                break;
            }
            next += 1;
        }
        if let Some(final_height) = self.final_height(head).await? {
            self.finalize(final_height, &mut report).await?;
        }
        Ok(report)
    }

    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let busy = match self.tick().await {
                Ok(r) => r.blocks > 0,
                Err(e) => {
                    tracing::warn!(error = %e, chain_id = self.config.chain_id, "watcher round failed; retrying");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }
}
