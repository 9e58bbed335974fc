//! Ledger persistence: accounts, entries, postings and two-phase holds.
//! The rules live in `corridor_ledger`; Postgres enforces them again (see the ledger migration).

use crate::StoreError;
use corridor_domain::{
    AssetCode, AssetRegistry, Money,
    ids::{AccountId, EntryId, HoldId, MerchantId},
};
use corridor_ledger::{AccountKey, EntryDraft, HoldState, LedgerError, Owner, Posting, Purpose};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

fn owner_columns(owner: Owner) -> (&'static str, Option<Uuid>) {
    match owner {
        Owner::Merchant(m) => ("merchant", Some(m.as_uuid())),
        Owner::Platform => ("platform", None),
    }
}

/// Returns the account's id, creating it on first use.
pub async fn ensure_account(
    conn: &mut PgConnection,
    key: &AccountKey,
    registry: &AssetRegistry,
) -> Result<AccountId, StoreError> {
    let scale = registry
        .get(key.asset.as_str())
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
        .scale;
    let (owner_kind, owner_id) = owner_columns(key.owner);
    if let Some(id) = find_account(conn, owner_kind, owner_id, key).await? {
        return Ok(id);
    }
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO ledger.accounts (id, owner_kind, owner_id, asset, scale, purpose, allow_negative)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (owner_kind, owner_id, asset, purpose) DO NOTHING
           RETURNING id"#,
        AccountId::new().as_uuid(),
        owner_kind,
        owner_id,
        key.asset.as_str(),
        i16::try_from(scale).map_err(|_| StoreError::Corrupt(format!("scale {scale} too large")))?,
        key.purpose.as_str(),
        key.purpose.allows_negative(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(AccountId::from_uuid(id)),
        // A concurrent transaction created it first.
        None => find_account(conn, owner_kind, owner_id, key)
            .await?
            .ok_or_else(|| StoreError::Corrupt("account vanished after a conflicting insert".into())),
    }
}

async fn find_account(
    conn: &mut PgConnection,
    owner_kind: &str,
    owner_id: Option<Uuid>,
    key: &AccountKey,
) -> Result<Option<AccountId>, StoreError> {
    // Two spellings so both use the unique index: `IS NOT DISTINCT FROM` cannot, and a scan of
    // the accounts table (whose balance rows are updated on every posting) is slow under load.
    let id = match owner_id {
        Some(owner) => {
            sqlx::query_scalar!(
                r#"SELECT id FROM ledger.accounts
                    WHERE owner_kind = $1 AND owner_id = $2 AND asset = $3 AND purpose = $4"#,
                owner_kind,
                owner,
                key.asset.as_str(),
                key.purpose.as_str(),
            )
            .fetch_optional(&mut *conn)
            .await?
        }
        None => {
            sqlx::query_scalar!(
                r#"SELECT id FROM ledger.accounts
                    WHERE owner_kind = $1 AND owner_id IS NULL AND asset = $2 AND purpose = $3"#,
                owner_kind,
                key.asset.as_str(),
                key.purpose.as_str(),
            )
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    Ok(id.map(AccountId::from_uuid))
}

/// Writes a validated entry. The database re-checks the balance per asset at COMMIT, and the
/// non-overdraft check fires right here if an account would go negative.
pub async fn post_entry(
    conn: &mut PgConnection,
    entry: &EntryDraft,
    registry: &AssetRegistry,
) -> Result<EntryId, StoreError> {
    let ids = resolve_accounts(conn, entry, registry).await?;
    insert_entry(conn, entry, &ids).await
}

/// Validates the entry and finds (or creates) the account behind each of its postings.
async fn resolve_accounts<'e>(
    conn: &mut PgConnection,
    entry: &'e EntryDraft,
    registry: &AssetRegistry,
) -> Result<BTreeMap<&'e AccountKey, AccountId>, StoreError> {
    entry.validate()?;
    let mut ids: BTreeMap<&AccountKey, AccountId> = BTreeMap::new();
    for posting in &entry.postings {
        if !ids.contains_key(&posting.account) {
            let id = ensure_account(conn, &posting.account, registry).await?;
            ids.insert(&posting.account, id);
        }
    }
    Ok(ids)
}

/// Writes a validated entry whose accounts `resolve_accounts` found.
async fn insert_entry(
    conn: &mut PgConnection,
    entry: &EntryDraft,
    ids: &BTreeMap<&AccountKey, AccountId>,
) -> Result<EntryId, StoreError> {
    sqlx::query!(
        "INSERT INTO ledger.entries (id, kind, memo) VALUES ($1, $2, $3)",
        entry.id.as_uuid(),
        entry.kind,
        entry.memo,
    )
    .execute(&mut *conn)
    .await?;
    // Lock accounts in one global order (by id) so two entries touching the same accounts
    // cannot deadlock.
    let mut rows: Vec<(Uuid, &Posting)> = entry.postings.iter().map(|p| (ids[&p.account].as_uuid(), p)).collect();
    rows.sort_by_key(|(id, _)| *id);
    let account_ids: Vec<Uuid> = rows.iter().map(|(id, _)| *id).collect();
    let assets: Vec<String> = rows.iter().map(|(_, p)| p.amount.asset().to_string()).collect();
    let amounts: Vec<Decimal> = rows.iter().map(|(_, p)| p.amount.amount()).collect();
    sqlx::query!(
        r#"INSERT INTO ledger.postings (entry_id, account_id, asset, amount)
           SELECT $1, account_id, asset, amount
             FROM UNNEST($2::uuid[], $3::text[], $4::numeric[]) WITH ORDINALITY AS t(account_id, asset, amount, n)
            ORDER BY n"#,
        entry.id.as_uuid(),
        &account_ids,
        &assets,
        &amounts,
    )
    .execute(&mut *conn)
    .await?;
    Ok(entry.id)
}

/// One account's balance; zero if the account has never been used.
pub async fn balance(conn: &mut PgConnection, key: &AccountKey, registry: &AssetRegistry) -> Result<Money, StoreError> {
    let asset = registry
        .get(key.asset.as_str())
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (owner_kind, owner_id) = owner_columns(key.owner);
    let stored = sqlx::query_scalar!(
        r#"SELECT balance FROM ledger.accounts
            WHERE owner_kind = $1 AND owner_id IS NOT DISTINCT FROM $2 AND asset = $3 AND purpose = $4"#,
        owner_kind,
        owner_id,
        key.asset.as_str(),
        key.purpose.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(Decimal::ZERO);
    Money::new(stored, asset).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A merchant's balances per asset and purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalance {
    pub purpose: Purpose,
    pub balance: Money,
}

pub async fn merchant_balances(
    conn: &mut PgConnection,
    merchant: MerchantId,
) -> Result<Vec<AccountBalance>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT asset, scale, purpose, balance FROM ledger.accounts
            WHERE owner_kind = 'merchant' AND owner_id = $1
            ORDER BY asset, purpose"#,
        merchant.as_uuid(),
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let purpose =
                Purpose::parse(&r.purpose).ok_or_else(|| StoreError::Corrupt(format!("purpose {}", r.purpose)))?;
            let asset = AssetCode::parse(&r.asset).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let balance =
                Money::from_parts(r.balance, asset, r.scale as u32).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(AccountBalance { purpose, balance })
        })
        .collect()
}

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub state: HoldState,
    pub amount: Money,
    pub pending_entry_id: EntryId,
    pub resolved_entry_id: Option<EntryId>,
}

/// Pending phase: moves `amount` from the merchant's available balance to reserved. Fails with
/// `InsufficientFunds` (and writes nothing, once the caller rolls back) if available is short.
pub async fn create_hold(
    conn: &mut PgConnection,
    hold_id: HoldId,
    merchant: MerchantId,
    amount: &Money,
    memo: &str,
    registry: &AssetRegistry,
) -> Result<Hold, StoreError> {
    if !amount.is_positive() {
        return Err(LedgerError::ZeroPosting { index: 0 }.into());
    }
    let available = AccountKey::merchant(merchant, amount.asset().clone(), Purpose::Available);
    let reserved = AccountKey::merchant(merchant, amount.asset().clone(), Purpose::Reserved);
    let entry = EntryDraft::transfer(
        "hold_pending",
        memo,
        available.clone(),
        reserved.clone(),
        amount.clone(),
    );
    let accounts = resolve_accounts(conn, &entry, registry).await?;
    let (available_id, reserved_id) = (accounts[&available], accounts[&reserved]);
    let entry_id = insert_entry(conn, &entry, &accounts).await?;
    sqlx::query!(
        r#"INSERT INTO ledger.holds (id, reserved_account_id, available_account_id, asset, amount, pending_entry_id)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        hold_id.as_uuid(),
        reserved_id.as_uuid(),
        available_id.as_uuid(),
        amount.asset().as_str(),
        amount.amount(),
        entry_id.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(Hold {
        id: hold_id,
        state: HoldState::Pending,
        amount: amount.clone(),
        pending_entry_id: entry_id,
        resolved_entry_id: None,
    })
}

struct LockedHold {
    hold: Hold,
    merchant: MerchantId,
}

async fn lock_hold(
    conn: &mut PgConnection,
    hold_id: HoldId,
    registry: &AssetRegistry,
) -> Result<LockedHold, StoreError> {
    let row = sqlx::query!(
        r#"SELECT h.status, h.asset, h.amount, h.pending_entry_id, h.resolved_entry_id, a.owner_id AS "merchant_id!"
             FROM ledger.holds h JOIN ledger.accounts a ON a.id = h.reserved_account_id
            WHERE h.id = $1
            FOR UPDATE OF h"#,
        hold_id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound("hold"))?;
    let asset = registry
        .get(&row.asset)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let state =
        HoldState::parse(&row.status).ok_or_else(|| StoreError::Corrupt(format!("hold status {}", row.status)))?;
    Ok(LockedHold {
        hold: Hold {
            id: hold_id,
            state,
            amount: Money::new(row.amount, asset).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            pending_entry_id: EntryId::from_uuid(row.pending_entry_id),
            resolved_entry_id: row.resolved_entry_id.map(EntryId::from_uuid),
        },
        merchant: MerchantId::from_uuid(row.merchant_id),
    })
}

async fn resolve(conn: &mut PgConnection, hold_id: HoldId, to: HoldState, entry_id: EntryId) -> Result<(), StoreError> {
    sqlx::query!(
        r#"UPDATE ledger.holds SET status = $2, resolved_entry_id = $3, resolved_at = now()
            WHERE id = $1 AND status = 'pending'"#,
        hold_id.as_uuid(),
        to.as_str(),
        entry_id.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Posted phase: moves the reserved amount to its destinations (for example chain clearing and
/// platform fees). The destinations must add up to the hold's amount exactly.
pub async fn post_hold(
    conn: &mut PgConnection,
    hold_id: HoldId,
    destinations: &[(AccountKey, Money)],
    memo: &str,
    registry: &AssetRegistry,
) -> Result<Hold, StoreError> {
    let LockedHold { hold, merchant } = lock_hold(conn, hold_id, registry).await?;
    let state = hold.state.resolve(HoldState::Posted)?;
    let reserved = AccountKey::merchant(merchant, hold.amount.asset().clone(), Purpose::Reserved);
    let mut postings = vec![Posting {
        account: reserved,
        amount: hold.amount.negated(),
    }];
    postings.extend(destinations.iter().map(|(account, amount)| Posting {
        account: account.clone(),
        amount: amount.clone(),
    }));
    let entry = EntryDraft {
        id: EntryId::new(),
        kind: "hold_posted",
        memo: memo.to_owned(),
        postings,
    };
    let entry_id = post_entry(conn, &entry, registry).await?;
    resolve(conn, hold_id, state, entry_id).await?;
    Ok(Hold {
        state,
        resolved_entry_id: Some(entry_id),
        ..hold
    })
}

/// Voided phase: returns the reserved amount to available.
pub async fn void_hold(
    conn: &mut PgConnection,
    hold_id: HoldId,
    memo: &str,
    registry: &AssetRegistry,
) -> Result<Hold, StoreError> {
    let LockedHold { hold, merchant } = lock_hold(conn, hold_id, registry).await?;
    let state = hold.state.resolve(HoldState::Voided)?;
    let asset = hold.amount.asset().clone();
    let entry = EntryDraft::transfer(
        "hold_voided",
        memo,
        AccountKey::merchant(merchant, asset.clone(), Purpose::Reserved),
        AccountKey::merchant(merchant, asset, Purpose::Available),
        hold.amount.clone(),
    );
    let entry_id = post_entry(conn, &entry, registry).await?;
    resolve(conn, hold_id, state, entry_id).await?;
    Ok(Hold {
        state,
        resolved_entry_id: Some(entry_id),
        ..hold
    })
}

/// What `corridor ledger check` reports. Empty vectors mean the ledger is consistent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub accounts_checked: i64,
    pub entries_checked: i64,
    /// Accounts whose stored balance differs from the fold of their postings.
    pub balance_mismatches: Vec<(AccountId, Decimal, Decimal)>,
    /// Entries whose postings do not sum to zero for some asset.
    pub unbalanced_entries: Vec<(EntryId, String, Decimal)>,
    /// Non-overdraft accounts below zero.
    pub negative_accounts: Vec<(AccountId, Decimal)>,
}

impl CheckReport {
    pub fn is_consistent(&self) -> bool {
        self.balance_mismatches.is_empty() && self.unbalanced_entries.is_empty() && self.negative_accounts.is_empty()
    }
}

/// Proves that every balance equals the fold of its postings, every entry balances per asset
/// and no non-overdraft account is negative. Read-only; bounded to the first 1,000 findings each.
pub async fn check(conn: &mut PgConnection) -> Result<CheckReport, StoreError> {
    let accounts_checked = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM ledger.accounts"#)
        .fetch_one(&mut *conn)
        .await?;
    let entries_checked = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM ledger.entries"#)
        .fetch_one(&mut *conn)
        .await?;
    let balance_mismatches = sqlx::query!(
        r#"SELECT a.id, a.balance, COALESCE(f.folded, 0) AS "folded!"
             FROM ledger.accounts a
             LEFT JOIN (SELECT account_id, sum(amount) AS folded FROM ledger.postings GROUP BY account_id) f
               ON f.account_id = a.id
            WHERE a.balance <> COALESCE(f.folded, 0)
            LIMIT 1000"#
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (AccountId::from_uuid(r.id), r.balance, r.folded))
    .collect();
    let unbalanced_entries = sqlx::query!(
        r#"SELECT entry_id, asset, sum(amount) AS "total!" FROM ledger.postings
            GROUP BY entry_id, asset HAVING sum(amount) <> 0 LIMIT 1000"#
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (EntryId::from_uuid(r.entry_id), r.asset, r.total))
    .collect();
    let negative_accounts =
        sqlx::query!("SELECT id, balance FROM ledger.accounts WHERE NOT allow_negative AND balance < 0 LIMIT 1000")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (AccountId::from_uuid(r.id), r.balance))
            .collect();
    Ok(CheckReport {
        accounts_checked,
        entries_checked,
        balance_mismatches,
        unbalanced_entries,
        negative_accounts,
    })
}
