//! The submitter: the one component that signs and sends transactions for a sender.
//!
//! Exactly-once rests on four rules:
//! 1. nonces come from Postgres (`chain.senders`), advanced only by the lease holder;
//! 2. a transaction is persisted (raw bytes, hash) before it is broadcast;
//! 3. a transaction not known to the node is re-sent with the same bytes (never re-signed
//!    with a new nonce), so a crash or a dropped transaction cannot create a second transfer;
//! 4. a stuck transaction is replaced at the same nonce with both fee fields raised by at least
//!    12.5 %, up to a ceiling, after which it waits for an operator.
//!
//! `tick` does one bounded round of all of this; `run` loops it.

use crate::{
    RPC_TIMEOUT,
    signer::TxSigner,
    store::{self, PendingTx, hex_lower},
};
use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockNumberOrTag, eip2718::Encodable2718},
    primitives::{Address, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
};
use corridor_store::StoreError;
use sqlx::PgPool;
use std::{str::FromStr, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct SubmitterConfig {
    pub chain_id: u64,
    /// Intents signed per round.
    pub batch_max: i64,
    /// Pending transactions loaded per round.
    pub pending_max: i64,
    /// Broadcast transactions not yet mined, at most: about one block of gas. Nodes under a
    /// deeper backlog drop transactions or build half-empty blocks (seen with anvil); signed
    /// transactions above the cap wait in Postgres, already persisted.
    pub in_flight_max: u64,
    /// Unmined transactions checked per round for being dropped or stuck (lowest nonces
    /// first: a stuck low nonce holds up everything above it).
    pub inspect_max: usize,
    pub lease_secs: i64,
    /// A pending transaction older than this is replaced with higher fees.
    pub bump_after_secs: i64,
    pub priority_fee_wei: u128,
    /// No fee bump goes above this; then the intent waits for an operator.
    pub max_fee_ceiling_wei: u128,
    pub poll_interval: Duration,
}

impl SubmitterConfig {
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            batch_max: 200,
            pending_max: 20_000,
            inspect_max: 64,
            in_flight_max: 600,
            lease_secs: 30,
            bump_after_secs: 30,
            priority_fee_wei: 1_000_000_000,
            max_fee_ceiling_wei: 500_000_000_000,
            poll_interval: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("RPC: {0}")]
    Rpc(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

impl From<sqlx::Error> for SubmitError {
    fn from(e: sqlx::Error) -> Self {
        SubmitError::Store(e.into())
    }
}

/// Crash-test hook: when `CORRIDOR_FAILPOINT` names this point, the process sends itself
/// SIGKILL right here, so tests can kill it exactly between two steps. Unset, it costs one
/// environment lookup.
fn failpoint(name: &str) {
    if std::env::var("CORRIDOR_FAILPOINT").as_deref() == Ok(name) {
        tracing::warn!(failpoint = name, "failpoint hit: killing this process");
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        loop {
            std::thread::park();
        }
    }
}

/// What a node said to `eth_sendRawTransaction`, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted,
    /// The node has it already: as good as accepted.
    AlreadyKnown,
    /// The nonce is used: this or a sibling transaction was mined.
    NonceTooLow,
    /// A replacement did not raise fees enough.
    Underpriced,
    /// The sender cannot pay for gas: wait for an operator to fund it.
    InsufficientFunds,
    Other(String),
}

pub fn classify_send_error(message: &str) -> SendOutcome {
    let m = message.to_ascii_lowercase();
    if m.contains("already known") || m.contains("already imported") || m.contains("known transaction") {
        SendOutcome::AlreadyKnown
    } else if m.contains("nonce too low") || m.contains("nonce is too low") || m.contains("invalid nonce") {
        SendOutcome::NonceTooLow
    } else if m.contains("underpriced") || m.contains("fee too low") || m.contains("base fee") {
        SendOutcome::Underpriced
    } else if m.contains("insufficient funds") {
        SendOutcome::InsufficientFunds
    } else {
        SendOutcome::Other(message.to_owned())
    }
}

/// Raises both fee fields by at least 12.5 % (rounding up), and the max fee at least to cover
/// `min_max_fee` (twice the current base fee plus the tip).
pub fn bumped_fees(max_fee: u128, priority: u128, min_max_fee: u128) -> (u128, u128) {
    let up = |x: u128| x.saturating_add(x.div_ceil(8)); // x * 1.125, rounded up
    let priority = up(priority).max(1);
    let max_fee = up(max_fee).max(min_max_fee).max(priority);
    (max_fee, priority)
}

/// What a receipt says about one of our transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub tx_hash: String,
    pub block: u64,
    pub ok: bool,
    pub gas_used: u64,
    /// Wei per gas actually paid.
    pub effective_gas_price: u128,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub leader: bool,
    pub signed: usize,
    pub broadcast: usize,
    pub rebroadcast: usize,
    pub bumped: usize,
    pub mined: usize,
    pub failed: usize,
}

pub struct Submitter {
    /// Cleared when a round fails; the next round re-checks the node's chain id first, so a
    /// node that comes back serving another chain is never sent our transactions.
    chain_verified: std::sync::atomic::AtomicBool,
    pool: PgPool,
    provider: DynProvider,
    signer: Arc<dyn TxSigner>,
    sender: String,
    owner: Uuid,
    config: SubmitterConfig,
}

async fn rpc<T, E: std::fmt::Display>(fut: impl IntoFuture<Output = Result<T, E>>) -> Result<T, SubmitError> {
    match tokio::time::timeout(RPC_TIMEOUT, fut.into_future()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SubmitError::Rpc(e.to_string())),
        Err(_) => Err(SubmitError::Rpc(format!("no answer within {RPC_TIMEOUT:?}"))),
    }
}

impl Submitter {
    /// Registers the sender (at its nonce on chain, the first time) and returns a submitter.
    pub async fn new(
        pool: PgPool,
        provider: DynProvider,
        signer: Arc<dyn TxSigner>,
        config: SubmitterConfig,
    ) -> Result<Self, SubmitError> {
        let address = signer.address();
        let sender = hex_lower(address);
        let chain_id = rpc(provider.get_chain_id()).await?;
        if chain_id != config.chain_id {
            return Err(SubmitError::Rpc(format!(
                "node serves chain {chain_id}, configured {}",
                config.chain_id
            )));
        }
        let on_chain = rpc(provider.get_transaction_count(address)).await?;
        let mut conn = pool.acquire().await?;
        store::ensure_sender(&mut conn, config.chain_id, &sender, on_chain).await?;
        Ok(Self {
            chain_verified: std::sync::atomic::AtomicBool::new(true),
            pool,
            provider,
            signer,
            sender,
            owner: Uuid::new_v4(),
            config,
        })
    }

    pub fn sender(&self) -> &str {
        &self.sender
    }

    async fn fees(&self) -> Result<(u128, u128), SubmitError> {
        let block = rpc(self.provider.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .ok_or_else(|| SubmitError::Rpc("no latest block".into()))?;
        let base = u128::from(block.header.base_fee_per_gas.unwrap_or(1_000_000_000));
        let priority = self.config.priority_fee_wei;
        Ok((
            base.saturating_mul(2)
                .saturating_add(priority)
                .min(self.config.max_fee_ceiling_wei),
            priority,
        ))
    }

    fn sign(
        &self,
        nonce: u64,
        to: &str,
        calldata: &[u8],
        gas_limit: u64,
        fees: (u128, u128),
    ) -> Result<(String, Vec<u8>), SubmitError> {
        let to = Address::from_str(to).map_err(|e| SubmitError::Sign(e.to_string()))?;
        let mut tx = TxEip1559 {
            chain_id: self.config.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: fees.0,
            max_priority_fee_per_gas: fees.1,
            to: TxKind::Call(to),
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::copy_from_slice(calldata),
        };
        let signature = self.signer.sign(&mut tx).map_err(SubmitError::Sign)?;
        let envelope: TxEnvelope = tx.into_signed(signature).into();
        Ok((hex_lower(envelope.tx_hash()), envelope.encoded_2718()))
    }

    /// Assigns nonces to queued intents, signs them and persists the signed bytes, all in one
    /// transaction, without broadcasting. Returns how many were signed (0 if not the leader).
    pub async fn assign_and_sign(&self) -> Result<usize, SubmitError> {
        let mut tx = self.pool.begin().await?;
        let Some(next_nonce) = store::acquire_lease(
            &mut tx,
            self.config.chain_id,
            &self.sender,
            self.owner,
            self.config.lease_secs,
        )
        .await?
        else {
            return Ok(0);
        };
        let queued = store::lock_queued(&mut tx, self.config.chain_id, &self.sender, self.config.batch_max).await?;
        if queued.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let fees = self.fees().await?;
        let mut signed = Vec::with_capacity(queued.len());
        for (i, intent) in queued.iter().enumerate() {
            let nonce = next_nonce + i as u64;
            let (hash, raw) = self.sign(nonce, &intent.to, &intent.calldata, intent.gas_limit, fees)?;
            signed.push((intent.id, nonce, hash, raw));
        }
        let rows: Vec<store::SignedTx<'_>> = signed
            .iter()
            .map(|(intent_id, nonce, hash, raw)| store::SignedTx {
                intent_id: *intent_id,
                nonce: *nonce,
                tx_hash: hash,
                raw,
                max_fee_per_gas: fees.0,
                max_priority_fee_per_gas: fees.1,
            })
            .collect();
        store::insert_signed_batch(&mut tx, &rows).await?;
        let advanced = store::advance_nonce(
            &mut tx,
            self.config.chain_id,
            &self.sender,
            self.owner,
            next_nonce,
            next_nonce + queued.len() as u64,
        )
        .await?;
        if !advanced {
            // The lease moved to another process mid-round: sign nothing.
            return Ok(0);
        }
        tx.commit().await?;
        failpoint("submitter.after_persist");
        metrics::counter!("chain_transactions_signed_total").increment(queued.len() as u64);
        Ok(queued.len())
    }

    async fn send_raw(&self, raw: &[u8]) -> SendOutcome {
        match tokio::time::timeout(RPC_TIMEOUT, self.provider.send_raw_transaction(raw)).await {
            Ok(Ok(_)) => SendOutcome::Accepted,
            Ok(Err(e)) => classify_send_error(&e.to_string()),
            Err(_) => SendOutcome::Other(format!("no answer within {RPC_TIMEOUT:?}")),
        }
    }

    /// Finds a receipt for any transaction signed for this intent.
    async fn find_receipt(&self, p: &PendingTx) -> Result<Option<Receipt>, SubmitError> {
        for hash in &p.all_hashes {
            let h = alloy::primitives::B256::from_str(hash).map_err(|e| SubmitError::Rpc(e.to_string()))?;
            if let Some(r) = rpc(self.provider.get_transaction_receipt(h)).await? {
                return Ok(Some(Receipt {
                    tx_hash: hash.clone(),
                    block: r.block_number.unwrap_or_default(),
                    ok: r.status(),
                    gas_used: r.gas_used,
                    effective_gas_price: r.effective_gas_price,
                }));
            }
        }
        Ok(None)
    }

    /// Replays a reverted call on the state before its block to name the error. Best effort:
    /// the state inside the block may differ, so this only adds detail to the recorded failure.
    async fn revert_reason(&self, p: &PendingTx, block: u64) -> Option<String> {
        use alloy::{rpc::types::TransactionRequest, sol_types::SolInterface};
        let request = TransactionRequest::default()
            .from(self.signer.address())
            .to(Address::from_str(&p.to).ok()?)
            .input(Bytes::copy_from_slice(&p.calldata).into());
        let call = self.provider.call(request).block(block.saturating_sub(1).into());
        let err = match tokio::time::timeout(RPC_TIMEOUT, call.into_future()).await {
            Ok(Err(e)) => e,
            _ => return None,
        };
        let data = err.as_error_resp().and_then(|r| r.as_revert_data())?;
        if let Ok(e) = crate::bindings::TestStablecoin::TestStablecoinErrors::abi_decode(&data) {
            return Some(format!("{e:?}"));
        }
        if let Ok(e) = crate::bindings::PayoutRouter::PayoutRouterErrors::abi_decode(&data) {
            return Some(format!("{e:?}"));
        }
        Some(format!("revert data {data}"))
    }

    /// Records receipts for nonces used on chain, broadcasts what was never sent, and checks the
    /// lowest unmined transactions for being dropped or stuck. Every phase is bounded.
    pub async fn process_pending(&self, report: &mut TickReport) -> Result<(), SubmitError> {
        use futures::StreamExt;
        const IN_FLIGHT_MAX: usize = 16;
        let chain_id = self.config.chain_id;
        // Nonces below this are used on chain: only those can have receipts.
        let chain_nonce = rpc(self.provider.get_transaction_count(self.signer.address())).await?;
        let mut conn = self.pool.acquire().await?;

        let used = store::pending(
            &mut conn,
            chain_id,
            &self.sender,
            store::PendingFilter {
                nonce_below: Some(chain_nonce),
                ..Default::default()
            },
            self.config.pending_max,
        )
        .await?;
        let receipts: Vec<_> = futures::stream::iter(used)
            .map(|p| async move {
                let found = self.find_receipt(&p).await;
                (p, found)
            })
            .buffered(IN_FLIGHT_MAX)
            .collect()
            .await;
        for (p, found) in receipts {
            let Some(receipt) = found? else {
                tracing::warn!(nonce = p.nonce, intent = %p.intent_id, "nonce used on chain but no receipt for our transactions yet");
                continue;
            };
            let reason = match receipt.ok {
                true => None,
                false => Some(format!(
                    "reverted in block {} (transaction {}){}",
                    receipt.block,
                    receipt.tx_hash,
                    self.revert_reason(&p, receipt.block)
                        .await
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )),
            };
            if let Some(age) = store::mark_mined(&mut conn, p.intent_id, &receipt, reason.as_deref()).await? {
                metrics::histogram!("chain_intent_to_inclusion_seconds").record(age as f64);
            }
            if receipt.ok {
                report.mined += 1
            } else {
                report.failed += 1
            }
        }

        let fresh = store::pending(
            &mut conn,
            chain_id,
            &self.sender,
            store::PendingFilter {
                nonce_from: Some(chain_nonce),
                nonce_below: Some(chain_nonce + self.config.in_flight_max),
                unbroadcast_only: true,
            },
            self.config.pending_max,
        )
        .await?;
        // Sent concurrently, answers taken in nonce order.
        let sent: Vec<_> = futures::stream::iter(fresh)
            .map(|p| async move {
                let outcome = self.send_raw(&p.raw).await;
                (p, outcome)
            })
            .buffered(IN_FLIGHT_MAX)
            .collect()
            .await;
        let mut accepted = Vec::new();
        let mut just_sent = std::collections::HashSet::new();
        for (p, outcome) in &sent {
            match outcome {
                SendOutcome::Accepted | SendOutcome::AlreadyKnown => {
                    accepted.push(p.tx_hash.clone());
                    just_sent.insert(p.intent_id);
                }
                SendOutcome::InsufficientFunds => {
                    store::mark_needs_operator(&mut conn, p.intent_id, "the sender cannot pay for gas").await?;
                }
                // Mined but not yet visible, or a gap below: next round.
                SendOutcome::NonceTooLow | SendOutcome::Underpriced | SendOutcome::Other(_) => {}
            }
        }
        if !accepted.is_empty() {
            failpoint("submitter.after_broadcast");
            store::mark_broadcast_many(&mut conn, &accepted).await?;
            report.broadcast += accepted.len();
        }

        let lowest = store::pending(
            &mut conn,
            chain_id,
            &self.sender,
            store::PendingFilter {
                nonce_from: Some(chain_nonce),
                ..Default::default()
            },
            self.config.inspect_max as i64,
        )
        .await?;
        let mut base_fee_floor: Option<u128> = None;
        for p in lowest {
            if !p.broadcast || just_sent.contains(&p.intent_id) {
                continue;
            }
            let h = alloy::primitives::B256::from_str(&p.tx_hash).map_err(|e| SubmitError::Rpc(e.to_string()))?;
            let known = rpc(self.provider.get_transaction_by_hash(h)).await?.is_some();
            let mut must_bump = false;
            if !known {
                // Dropped from the pool: the same bytes again, never a new nonce.
                match self.send_raw(&p.raw).await {
                    SendOutcome::Accepted | SendOutcome::AlreadyKnown => {
                        store::mark_broadcast(&mut conn, &p.tx_hash, true).await?;
                        report.rebroadcast += 1;
                        metrics::counter!("chain_rebroadcasts_total").increment(1);
                        continue;
                    }
                    // Mined meanwhile: the receipt shows up next round.
                    SendOutcome::NonceTooLow => continue,
                    // Evicted because it no longer pays the base fee: only a replacement helps.
                    SendOutcome::Underpriced => must_bump = true,
                    SendOutcome::InsufficientFunds | SendOutcome::Other(_) => continue,
                }
            }
            if must_bump || p.signed_age_secs >= self.config.bump_after_secs {
                let floor = match base_fee_floor {
                    Some(f) => f,
                    None => {
                        let f = self.fees().await?.0;
                        base_fee_floor = Some(f);
                        f
                    }
                };
                let (max_fee, priority) = bumped_fees(p.max_fee_per_gas, p.max_priority_fee_per_gas, floor);
                if max_fee > self.config.max_fee_ceiling_wei {
                    store::mark_needs_operator(&mut conn, p.intent_id, "fee ceiling reached; waiting for an operator")
                        .await?;
                    continue;
                }
                let (hash, raw) = self.sign(p.nonce, &p.to, &p.calldata, p.gas_limit, (max_fee, priority))?;
                store::insert_signed(
                    &mut conn,
                    store::SignedTx {
                        intent_id: p.intent_id,
                        nonce: p.nonce,
                        tx_hash: &hash,
                        raw: &raw,
                        max_fee_per_gas: max_fee,
                        max_priority_fee_per_gas: priority,
                    },
                )
                .await?;
                if matches!(
                    self.send_raw(&raw).await,
                    SendOutcome::Accepted | SendOutcome::AlreadyKnown
                ) {
                    store::mark_broadcast(&mut conn, &hash, false).await?;
                }
                report.bumped += 1;
                metrics::counter!("chain_fee_bumps_total").increment(1);
            }
        }
        Ok(())
    }

    /// One bounded round: sign what is queued, then look after everything pending.
    pub async fn tick(&self) -> Result<TickReport, SubmitError> {
        use std::sync::atomic::Ordering;
        if !self.chain_verified.load(Ordering::SeqCst) {
            let chain_id = rpc(self.provider.get_chain_id()).await?;
            if chain_id != self.config.chain_id {
                return Err(SubmitError::Rpc(format!(
                    "node now serves chain {chain_id}, configured {}: submission stopped",
                    self.config.chain_id
                )));
            }
            self.chain_verified.store(true, Ordering::SeqCst);
        }
        let result = self.round().await;
        if result.is_err() {
            self.chain_verified.store(false, Ordering::SeqCst);
        }
        result
    }

    async fn round(&self) -> Result<TickReport, SubmitError> {
        let mut report = TickReport {
            signed: self.assign_and_sign().await?,
            ..Default::default()
        };
        let mut conn = self.pool.acquire().await?;
        report.leader = store::acquire_lease(
            &mut conn,
            self.config.chain_id,
            &self.sender,
            self.owner,
            self.config.lease_secs,
        )
        .await?
        .is_some();
        drop(conn);
        if report.leader {
            self.process_pending(&mut report).await?;
            self.record_gauges().await?;
        }
        Ok(report)
    }

    /// Queue depth and nonce lag (nonces assigned in Postgres but not yet mined on chain).
    async fn record_gauges(&self) -> Result<(), SubmitError> {
        let mut conn = self.pool.acquire().await?;
        let (queued, assigned) = store::queue_stats(&mut conn, self.config.chain_id, &self.sender).await?;
        let on_chain = rpc(self.provider.get_transaction_count(self.signer.address())).await?;
        let labels = [("sender", self.sender.clone())];
        metrics::gauge!("chain_queue_depth", &labels).set(queued as f64);
        metrics::gauge!("chain_nonce_lag", &labels).set(assigned.saturating_sub(on_chain) as f64);
        Ok(())
    }

    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let busy = match self.tick().await {
                Ok(r) => r.signed + r.broadcast + r.mined > 0,
                Err(e) => {
                    tracing::warn!(error = %e, sender = %self.sender, "submitter round failed; retrying");
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
        self.release().await;
    }

    /// Gives the sender's lease back (clean shutdown), so another process can take over at once.
    pub async fn release(&self) {
        if let Ok(mut conn) = self.pool.acquire().await {
            let _ = store::release_lease(&mut conn, self.config.chain_id, &self.sender, self.owner).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_node_errors() {
        assert_eq!(classify_send_error("already known"), SendOutcome::AlreadyKnown);
        assert_eq!(
            classify_send_error("nonce too low: next nonce 5, tx nonce 4"),
            SendOutcome::NonceTooLow
        );
        assert_eq!(
            classify_send_error("replacement transaction underpriced"),
            SendOutcome::Underpriced
        );
        assert_eq!(
            classify_send_error("insufficient funds for gas * price + value"),
            SendOutcome::InsufficientFunds
        );
        assert!(matches!(
            classify_send_error("execution reverted"),
            SendOutcome::Other(_)
        ));
    }

    #[test]
    fn bumps_raise_both_fees_by_at_least_an_eighth() {
        let (max, prio) = bumped_fees(100, 10, 0);
        assert_eq!((max, prio), (113, 12), "12.5 % rounded up");
        assert!(max * 1000 >= 100 * 1125 && prio * 1000 >= 10 * 1125);
        let (max, _) = bumped_fees(100, 10, 1_000);
        assert_eq!(max, 1_000, "covers the current base fee");
    }
}
