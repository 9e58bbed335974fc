//! The `chain` schema: senders (database-owned nonces and the submitter lease), intents, and
//! every signed transaction.

use corridor_store::StoreError;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

/// Lower-case hex, the stored form of addresses and hashes.
pub fn hex_lower(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Registers a sender at `first_nonce` (its nonce on chain), if not known yet.
pub async fn ensure_sender(
    conn: &mut PgConnection,
    chain_id: u64,
    address: &str,
    first_nonce: u64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO chain.senders (chain_id, address, next_nonce) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        chain_id as i64,
        address,
        first_nonce as i64,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes or renews the sender's lease. Returns the next nonce if this submitter holds it.
pub async fn acquire_lease(
    conn: &mut PgConnection,
    chain_id: u64,
    address: &str,
    owner: Uuid,
    lease_secs: i64,
) -> Result<Option<u64>, StoreError> {
    let next = sqlx::query_scalar!(
        r#"UPDATE chain.senders
              SET lease_owner = $3, lease_expires_at = now() + $4::bigint * interval '1 second'
            WHERE chain_id = $1 AND address = $2
              AND (lease_owner = $3 OR lease_owner IS NULL OR lease_expires_at < now())
           RETURNING next_nonce"#,
        chain_id as i64,
        address,
        owner,
        lease_secs,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(next.map(|n| n as u64))
}

/// Gives the lease up (clean shutdown), so another process takes over at once.
pub async fn release_lease(
    conn: &mut PgConnection,
    chain_id: u64,
    address: &str,
    owner: Uuid,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE chain.senders SET lease_owner = NULL, lease_expires_at = NULL WHERE chain_id = $1 AND address = $2 AND lease_owner = $3",
        chain_id as i64,
        address,
        owner,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub struct NewIntent<'a> {
    pub id: Uuid,
    pub chain_id: u64,
    pub sender: &'a str,
    pub purpose: &'a str,
    pub to: &'a str,
    pub calldata: &'a [u8],
    pub gas_limit: u64,
}

/// Records what a service wants sent; call in the service's own transaction. The `purpose`
/// is unique, so asking twice for the same thing is refused by the database.
pub async fn insert_intent(conn: &mut PgConnection, intent: NewIntent<'_>) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO chain.intents (id, chain_id, sender, purpose, to_address, calldata, gas_limit)
           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        intent.id,
        intent.chain_id as i64,
        intent.sender,
        intent.purpose,
        intent.to,
        intent.calldata,
        intent.gas_limit as i64,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct QueuedIntent {
    pub id: Uuid,
    pub to: String,
    pub calldata: Vec<u8>,
    pub gas_limit: u64,
}

/// Locks up to `limit` queued intents of a sender, oldest first.
pub async fn lock_queued(
    conn: &mut PgConnection,
    chain_id: u64,
    sender: &str,
    limit: i64,
) -> Result<Vec<QueuedIntent>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT id, to_address, calldata, gas_limit FROM chain.intents
            WHERE chain_id = $1 AND sender = $2 AND status = 'queued'
            ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED"#,
        chain_id as i64,
        sender,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| QueuedIntent {
            id: r.id,
            to: r.to_address,
            calldata: r.calldata,
            gas_limit: r.gas_limit as u64,
        })
        .collect())
}

pub struct SignedTx<'a> {
    pub intent_id: Uuid,
    pub nonce: u64,
    pub tx_hash: &'a str,
    pub raw: &'a [u8],
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

/// Persists a signed transaction; for a first signature also moves the intent to `pending`
/// with its nonce.
pub async fn insert_signed(conn: &mut PgConnection, tx: SignedTx<'_>) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO chain.transactions (id, intent_id, nonce, tx_hash, raw, max_fee_per_gas, max_priority_fee_per_gas)
           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        Uuid::now_v7(),
        tx.intent_id,
        tx.nonce as i64,
        tx.tx_hash,
        tx.raw,
        Decimal::from(tx.max_fee_per_gas),
        Decimal::from(tx.max_priority_fee_per_gas),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"UPDATE chain.intents SET status = 'pending', nonce = $2, updated_at = now()
            WHERE id = $1 AND status = 'queued'"#,
        tx.intent_id,
        tx.nonce as i64,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Advances the sender's nonce, only while `owner` holds the lease.
pub async fn advance_nonce(
    conn: &mut PgConnection,
    chain_id: u64,
    sender: &str,
    owner: Uuid,
    from: u64,
    to: u64,
) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        r#"UPDATE chain.senders SET next_nonce = $5
            WHERE chain_id = $1 AND address = $2 AND lease_owner = $3 AND next_nonce = $4"#,
        chain_id as i64,
        sender,
        owner,
        from as i64,
        to as i64,
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A pending intent with its newest signed transaction.
#[derive(Debug, Clone)]
pub struct PendingTx {
    pub intent_id: Uuid,
    pub nonce: u64,
    pub to: String,
    pub calldata: Vec<u8>,
    pub gas_limit: u64,
    pub tx_hash: String,
    pub raw: Vec<u8>,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub broadcast: bool,
    pub signed_age_secs: i64,
    /// Every hash ever signed for this intent (any of them may be the one mined).
    pub all_hashes: Vec<String>,
}

/// Which pending intents to load.
#[derive(Debug, Clone, Copy, Default)]
pub struct PendingFilter {
    /// Only nonces below this (used on chain: receipts exist).
    pub nonce_below: Option<u64>,
    /// Only nonces at or above this.
    pub nonce_from: Option<u64>,
    /// Only intents whose newest transaction was never broadcast.
    pub unbroadcast_only: bool,
}

pub async fn pending(
    conn: &mut PgConnection,
    chain_id: u64,
    sender: &str,
    filter: PendingFilter,
    limit: i64,
) -> Result<Vec<PendingTx>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT i.id, i.nonce AS "nonce!", i.to_address, i.calldata, i.gas_limit,
                  t.tx_hash, t.raw, t.max_fee_per_gas, t.max_priority_fee_per_gas,
                  t.broadcast_at IS NOT NULL AS "broadcast!",
                  extract(epoch FROM now() - t.signed_at)::bigint AS "age!",
                  (SELECT array_agg(tx_hash) FROM chain.transactions WHERE intent_id = i.id) AS "all_hashes!"
             FROM chain.intents i
             JOIN LATERAL (SELECT * FROM chain.transactions WHERE intent_id = i.id ORDER BY signed_at DESC, id DESC LIMIT 1) t ON true
            WHERE i.chain_id = $1 AND i.sender = $2 AND i.status IN ('pending', 'needs_operator')
              AND ($4::bigint IS NULL OR i.nonce < $4)
              AND ($5::bigint IS NULL OR i.nonce >= $5)
              AND (NOT $6 OR t.broadcast_at IS NULL)
            ORDER BY i.nonce LIMIT $3"#,
        chain_id as i64,
        sender,
        limit,
        filter.nonce_below.map(|n| n as i64),
        filter.nonce_from.map(|n| n as i64),
        filter.unbroadcast_only,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let fee = |d: Decimal| u128::try_from(d).map_err(|_| StoreError::Corrupt(format!("fee {d}")));
            Ok(PendingTx {
                intent_id: r.id,
                nonce: r.nonce as u64,
                to: r.to_address,
                calldata: r.calldata,
                gas_limit: r.gas_limit as u64,
                tx_hash: r.tx_hash,
                raw: r.raw,
                max_fee_per_gas: fee(r.max_fee_per_gas)?,
                max_priority_fee_per_gas: fee(r.max_priority_fee_per_gas)?,
                broadcast: r.broadcast,
                signed_age_secs: r.age,
                all_hashes: r.all_hashes,
            })
        })
        .collect()
}

/// Persists many first signatures at once (one round trip for the rows, one for the intents).
pub async fn insert_signed_batch(conn: &mut PgConnection, txs: &[SignedTx<'_>]) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = txs.iter().map(|_| Uuid::now_v7()).collect();
    let intents: Vec<Uuid> = txs.iter().map(|t| t.intent_id).collect();
    let nonces: Vec<i64> = txs.iter().map(|t| t.nonce as i64).collect();
    let hashes: Vec<String> = txs.iter().map(|t| t.tx_hash.to_owned()).collect();
    let raws: Vec<Vec<u8>> = txs.iter().map(|t| t.raw.to_vec()).collect();
    let max_fees: Vec<Decimal> = txs.iter().map(|t| Decimal::from(t.max_fee_per_gas)).collect();
    let tips: Vec<Decimal> = txs.iter().map(|t| Decimal::from(t.max_priority_fee_per_gas)).collect();
    sqlx::query!(
        r#"INSERT INTO chain.transactions (id, intent_id, nonce, tx_hash, raw, max_fee_per_gas, max_priority_fee_per_gas)
           SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::bytea[], $6::numeric[], $7::numeric[])"#,
        &ids,
        &intents,
        &nonces,
        &hashes,
        &raws,
        &max_fees,
        &tips,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"UPDATE chain.intents i SET status = 'pending', nonce = u.nonce, updated_at = now()
             FROM UNNEST($1::uuid[], $2::bigint[]) AS u(id, nonce)
            WHERE i.id = u.id AND i.status = 'queued'"#,
        &intents,
        &nonces,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks many transactions as accepted by the node.
pub async fn mark_broadcast_many(conn: &mut PgConnection, hashes: &[String]) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE chain.transactions SET broadcast_at = COALESCE(broadcast_at, now()) WHERE tx_hash = ANY($1)",
        hashes,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn mark_broadcast(conn: &mut PgConnection, tx_hash: &str, rebroadcast: bool) -> Result<(), StoreError> {
    sqlx::query!(
        r#"UPDATE chain.transactions
              SET broadcast_at = COALESCE(broadcast_at, now()), rebroadcasts = rebroadcasts + $2::int
            WHERE tx_hash = $1"#,
        tx_hash,
        i32::from(rebroadcast),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records the receipt. Returns the seconds from intent to inclusion, if this call recorded it.
pub async fn mark_mined(
    conn: &mut PgConnection,
    intent_id: Uuid,
    receipt: &crate::submitter::Receipt,
    failure_reason: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let status = if failure_reason.is_some() { "failed" } else { "mined" };
    let age = sqlx::query_scalar!(
        r#"UPDATE chain.intents SET status = $2, mined_tx_hash = $3, mined_block = $4, failure_reason = $5,
                  gas_used = $6, effective_gas_price = $7, updated_at = now()
            WHERE id = $1 AND status IN ('pending', 'needs_operator')
           RETURNING extract(epoch FROM now() - created_at)::bigint AS "age!""#,
        intent_id,
        status,
        receipt.tx_hash,
        receipt.block as i64,
        failure_reason,
        receipt.gas_used as i64,
        Decimal::from(receipt.effective_gas_price),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(age)
}

/// Intents waiting for a nonce, and the sender's next nonce in Postgres.
pub async fn queue_stats(conn: &mut PgConnection, chain_id: u64, sender: &str) -> Result<(u64, u64), StoreError> {
    let row = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM chain.intents WHERE chain_id = $1 AND sender = $2 AND status = 'queued') AS "queued!",
                  (SELECT next_nonce FROM chain.senders WHERE chain_id = $1 AND address = $2) AS "next_nonce?""#,
        chain_id as i64,
        sender,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.queued as u64, row.next_nonce.unwrap_or(0) as u64))
}

pub async fn mark_needs_operator(conn: &mut PgConnection, intent_id: Uuid, reason: &str) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE chain.intents SET status = 'needs_operator', failure_reason = $2, updated_at = now() WHERE id = $1 AND status = 'pending'",
        intent_id,
        reason,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
