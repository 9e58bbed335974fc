//! Running one asset's period: sources summed, balances attributed from ledger history, the
//! waterfall and pro-rata split planned, and (unless it is a dry run) one balanced journal entry
//! written with the distribution, its allocations and a `yield.distributed` event per merchant,
//! all in the caller's transaction.

use crate::{
    allocate::{self, AllocateError, Plan, Waterfall, Weighted},
    db,
    twab::{self, Change, Period, TwabError},
};
use chrono::{DateTime, Utc};
use corridor_domain::{
    Asset, AssetRegistry, Money,
    ids::{EntryId, MerchantId, YieldDistributionId, YieldRewardId},
};
use corridor_ledger::{AccountKey, EntryDraft, Posting, Purpose};
use corridor_store::{StoreError, ledger, outbox};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

/// How long after its end a period may be distributed. Ledger times are transaction start
/// times, and a transaction that began before the end may still be committing; the statement
/// timeout (30 s by default) bounds how long, so a minute is a safe margin.
pub const SETTLE_MARGIN_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum DistributeError {
    #[error("the period ends at {end}; it can be distributed from {settled_from} (a minute after its end)")]
    PeriodOpen {
        end: DateTime<Utc>,
        settled_from: DateTime<Utc>,
    },
    #[error("{existing} already distributed exactly this period; a period is paid once")]
    AlreadyDistributed { existing: YieldDistributionId },
    #[error("the period overlaps {existing} ({start} to {end})")]
    Overlaps {
        existing: YieldDistributionId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error(
        "periods of an asset are distributed in order: the latest ended at {latest_end}, so the next must start at or after it"
    )]
    BeforeLatest { latest_end: DateTime<Utc> },
    #[error("the vault has no mark at {at}; with a vault in use, each period bound needs one")]
    VaultMarkMissing { at: DateTime<Utc> },
    #[error(transparent)]
    Allocate(#[from] AllocateError),
    #[error("balance history: {0}")]
    Twab(#[from] TwabError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DistributeError {
    fn from(e: sqlx::Error) -> Self {
        DistributeError::Store(e.into())
    }
}

/// A checked request: every field already parsed at the edge.
#[derive(Debug, Clone)]
pub struct Request {
    pub asset: Asset,
    pub period: Period,
    pub waterfall: Waterfall,
    pub partner_name: Option<String>,
    /// Merchants whose time-weighted balance is below this earn nothing this period.
    pub min_balance: Money,
    /// ISO 3166 alpha-2 codes; a merchant in one of them, or whose jurisdiction is unknown
    /// while the list is not empty, is not eligible.
    pub excluded_jurisdictions: BTreeSet<String>,
}

/// A yield source counted in the period.
#[derive(Debug, Clone, Serialize)]
pub struct SourceLine {
    pub kind: &'static str,
    pub id: String,
    pub source: String,
    pub reference: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AllocationLine {
    pub merchant_id: MerchantId,
    pub balance_seconds: String,
    pub twab: String,
    pub fees: String,
    pub net: String,
}

/// A period's parameters and totals: what a distribution shows, and the head of its report.
/// Amounts are strings at the asset's scale.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub asset: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub take_rate_bps: u32,
    pub partner_name: Option<String>,
    pub partner_share_bps: u32,
    pub min_balance: String,
    pub excluded_jurisdictions: Vec<String>,
    /// Yield from every source in the period (negative when the vault lost value).
    pub gross_yield: String,
    pub carried_loss_in: String,
    pub distributable: String,
    pub carried_loss_out: String,
    pub platform: String,
    pub partner: String,
    pub merchants: String,
    /// The merchants' share kept by the platform because no merchant was eligible.
    pub unclaimed: String,
}

/// The canonical report of a period: what its hash covers. Field order is fixed by the structs,
/// lists are sorted.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub summary: Summary,
    pub sources: Vec<SourceLine>,
    pub balance_seconds_total: String,
    pub allocations: Vec<AllocationLine>,
}

impl Report {
    pub fn hash(&self) -> [u8; 32] {
        // Serialising a struct of strings and sorted vectors cannot fail.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&bytes).into()
    }
}

pub struct Outcome {
    /// `None` for a dry run.
    pub id: Option<YieldDistributionId>,
    pub report: Report,
    pub report_hash: [u8; 32],
    pub entry_id: Option<EntryId>,
}

/// Plans the period and, unless `dry_run`, pays it. Takes the per-asset lock, so concurrent
/// runs of one asset queue behind each other and the second finds the first's row.
pub async fn run(
    conn: &mut PgConnection,
    registry: &AssetRegistry,
    now: DateTime<Utc>,
    req: &Request,
    actor: Option<Uuid>,
    dry_run: bool,
) -> Result<Outcome, DistributeError> {
    let asset = req.asset.code.as_str();
    let settled_from = req.period.end() + chrono::Duration::seconds(SETTLE_MARGIN_SECS);
    if now < settled_from {
        return Err(DistributeError::PeriodOpen {
            end: req.period.end(),
            settled_from,
        });
    }
    db::lock_asset(conn, asset).await?;
    if let Some(existing) = db::overlapping(conn, asset, req.period.start(), req.period.end()).await? {
        let id = YieldDistributionId::from_uuid(existing.id);
        if existing.period_start == req.period.start() && existing.period_end == req.period.end() {
            return Err(DistributeError::AlreadyDistributed { existing: id });
        }
        return Err(DistributeError::Overlaps {
            existing: id,
            start: existing.period_start,
            end: existing.period_end,
        });
    }
    let latest = db::latest(conn, asset).await?;
    if let Some(latest) = &latest
        && latest.period_end > req.period.start()
    {
        return Err(DistributeError::BeforeLatest {
            latest_end: latest.period_end,
        });
    }
    let carried_loss_in = units(latest.map_or(Decimal::ZERO, |l| l.carried_loss_out), &req.asset)?;
    let rewards = db::claimable_rewards(conn, asset, req.period.end()).await?;
    let mut gross: i128 = 0;
    for r in &rewards {
        gross = gross
            .checked_add(units(r.amount, &req.asset)?)
            .ok_or(AllocateError::Overflow)?;
    }
    let vault = vault_yield(conn, req).await?;
    if let Some(v) = vault {
        gross = gross.checked_add(v).ok_or(AllocateError::Overflow)?;
    }
    let eligible = attribute(conn, req).await?;
    let plan = allocate::plan(
        gross,
        u128::try_from(carried_loss_in).map_err(|_| AllocateError::Overflow)?,
        req.waterfall,
        &eligible,
    )?;
    let report = report(req, &rewards, vault, &plan)?;
    let report_hash = report.hash();
    if dry_run {
        return Ok(Outcome {
            id: None,
            report,
            report_hash,
            entry_id: None,
        });
    }
    let id = YieldDistributionId::new();
    let entry_id = if plan.distributable_units > 0 {
        Some(post_entry(conn, registry, req, id, &plan).await?)
    } else {
        None
    };
    let money = |u: u128| money_of(u, &req.asset);
    db::insert_distribution(
        conn,
        &db::DistributionRow {
            id: id.as_uuid(),
            asset: asset.to_owned(),
            period_start: req.period.start(),
            period_end: req.period.end(),
            take_rate_bps: req.waterfall.take_rate.get() as i32,
            partner_name: req.partner_name.clone(),
            partner_share_bps: req.waterfall.partner_share.get() as i32,
            min_balance: req.min_balance.amount(),
            excluded_jurisdictions: req.excluded_jurisdictions.iter().cloned().collect(),
            gross_yield: signed_money_of(plan.gross_units, &req.asset)?,
            carried_loss_in: money(plan.carried_loss_in_units)?,
            carried_loss_out: money(plan.carried_loss_out_units)?,
            distributable: money(plan.distributable_units)?,
            platform_amount: money(plan.platform_units)?,
            partner_amount: money(plan.partner_units)?,
            merchants_amount: money(plan.merchants_units)?,
            unclaimed_amount: money(plan.unclaimed_units)?,
            eligible_merchants: i32::try_from(plan.allocations.len()).map_err(|_| AllocateError::Overflow)?,
            balance_seconds_total: whole(allocate::weights_total(&eligible))?,
            entry_id: entry_id.map(|e| e.as_uuid()),
            report_hash: report_hash.to_vec(),
            created_at: now,
        },
        actor,
    )
    .await?;
    let mut rows = db::AllocationRows {
        merchant_ids: Vec::with_capacity(plan.allocations.len()),
        balance_seconds: Vec::with_capacity(plan.allocations.len()),
        twabs: Vec::with_capacity(plan.allocations.len()),
        fees: Vec::with_capacity(plan.allocations.len()),
        nets: Vec::with_capacity(plan.allocations.len()),
    };
    for a in &plan.allocations {
        rows.merchant_ids.push(a.key.as_uuid());
        rows.balance_seconds.push(whole(a.weight)?);
        rows.twabs.push(twab_of(a.weight, &req.period, &req.asset)?);
        rows.fees.push(money(a.fees_units)?);
        rows.nets.push(money(a.net_units)?);
    }
    db::insert_allocations(conn, id.as_uuid(), &rows).await?;
    let reward_ids: Vec<Uuid> = rewards.iter().map(|r| r.id).collect();
    db::claim_rewards(conn, &reward_ids, id.as_uuid()).await?;
    for (a, line) in plan.allocations.iter().zip(&report.allocations) {
        if a.net_units == 0 {
            continue;
        }
        let payload = serde_json::json!({
            "distribution_id": id,
            "asset": asset,
            "period_start": req.period.start(),
            "period_end": req.period.end(),
            "twab": line.twab,
            "gross": money(a.net_units + a.fees_units)?.to_string(),
            "fees": line.fees,
            "net": line.net,
        });
        outbox::enqueue(conn, Some(a.key), "yield.distributed", &payload).await?;
    }
    corridor_store::audit::append(
        conn,
        &actor.map_or_else(|| "system".to_owned(), |a| format!("usr_{}", a.simple())),
        "yield.distributed",
        &id.to_string(),
        &serde_json::json!({ "report_hash": hex::encode(report_hash), "distributable": report.summary.distributable }),
    )
    .await?;
    Ok(Outcome {
        id: Some(id),
        report,
        report_hash,
        entry_id,
    })
}

/// Balance-seconds of every eligible merchant, from ledger history.
async fn attribute(conn: &mut PgConnection, req: &Request) -> Result<Vec<Weighted<MerchantId>>, DistributeError> {
    let enrolled: HashMap<Uuid, db::Enrolment> = db::enrolments(conn)
        .await?
        .into_iter()
        .filter(|e| match &e.jurisdiction {
            Some(j) => !req.excluded_jurisdictions.contains(j),
            // Unknown cannot be shown to be outside the excluded ones: fail closed.
            None => req.excluded_jurisdictions.is_empty(),
        })
        .map(|e| (e.merchant_id, e))
        .collect();
    let history = db::history_since(conn, req.asset.code.as_str(), req.period.start()).await?;
    let min_weight = u128::try_from(units(req.min_balance.amount(), &req.asset)?)
        .map_err(|_| AllocateError::Overflow)?
        .checked_mul(u128::from(req.period.seconds()))
        .ok_or(AllocateError::Overflow)?;
    let mut eligible = Vec::new();
    for rows in history.chunk_by(|a, b| a.merchant_id == b.merchant_id) {
        let Some(enrolment) = enrolled.get(&rows[0].merchant_id) else {
            continue;
        };
        let weight = merchant_weight(rows, req, enrolment.opted_in_at)?;
        if weight > 0 && weight >= min_weight {
            eligible.push(Weighted {
                key: MerchantId::from_uuid(rows[0].merchant_id),
                weight,
            });
        }
    }
    Ok(eligible)
}

/// One merchant's balance-seconds: current balances minus every posting since the start give
/// the opening balance; the postings inside the period are its changes.
fn merchant_weight(
    rows: &[db::HistoryRow],
    req: &Request,
    counted_from: DateTime<Utc>,
) -> Result<u128, DistributeError> {
    let mut current: i128 = 0;
    let mut since: i128 = 0;
    let mut changes = Vec::new();
    for row in rows {
        let u = units(row.amount, &req.asset)?;
        match row.at {
            None => current = current.checked_add(u).ok_or(AllocateError::Overflow)?,
            Some(at) => {
                since = since.checked_add(u).ok_or(AllocateError::Overflow)?;
                changes.push(Change {
                    at_unix_secs: at.timestamp(),
                    delta_units: u,
                });
            }
        }
    }
    let opening = current.checked_sub(since).ok_or(AllocateError::Overflow)?;
    Ok(twab::balance_seconds(
        &req.period,
        counted_from.max(req.period.start()),
        opening,
        changes,
    )?)
}

async fn post_entry(
    conn: &mut PgConnection,
    registry: &AssetRegistry,
    req: &Request,
    id: YieldDistributionId,
    plan: &Plan<MerchantId>,
) -> Result<EntryId, DistributeError> {
    let code = &req.asset.code;
    let money = |u: u128| -> Result<Money, DistributeError> {
        Ok(Money::new(money_of(u, &req.asset)?, &req.asset).map_err(|_| AllocateError::Overflow)?)
    };
    // The yield is in the treasury on chain (vault or rewards received), which the platform's
    // chain clearing account mirrors as a negative balance.
    let mut postings = vec![Posting {
        account: AccountKey::platform(code.clone(), Purpose::ChainClearing),
        amount: money(plan.distributable_units)?.negated(),
    }];
    if plan.platform_units > 0 {
        postings.push(Posting {
            account: AccountKey::platform(code.clone(), Purpose::PlatformFees),
            amount: money(plan.platform_units)?,
        });
    }
    if plan.partner_units > 0 {
        postings.push(Posting {
            account: AccountKey::platform(code.clone(), Purpose::PartnerPayable),
            amount: money(plan.partner_units)?,
        });
    }
    for a in plan.allocations.iter().filter(|a| a.net_units > 0) {
        postings.push(Posting {
            account: AccountKey::merchant(a.key, code.clone(), Purpose::Available),
            amount: money(a.net_units)?,
        });
    }
    let entry = EntryDraft {
        id: EntryId::new(),
        kind: "yield_distribution",
        memo: format!(
            "yield {id} for {} to {}",
            req.period.start().to_rfc3339(),
            req.period.end().to_rfc3339()
        ),
        postings,
    };
    Ok(ledger::post_entry(conn, &entry, registry).await?)
}

/// The vault's yield over the period in base units: the change in the position's value minus
/// the change in what was deposited. `None` when the asset has no vault marks at all.
async fn vault_yield(conn: &mut PgConnection, req: &Request) -> Result<Option<i128>, DistributeError> {
    let asset = req.asset.code.as_str();
    if !db::has_vault_marks(conn, asset).await? {
        return Ok(None);
    }
    let marks = db::vault_marks_at(conn, asset, &[req.period.start(), req.period.end()]).await?;
    let mark = |at: DateTime<Utc>| {
        marks
            .iter()
            .find(|m| m.at == at)
            .ok_or(DistributeError::VaultMarkMissing { at })
    };
    let (start, end) = (mark(req.period.start())?, mark(req.period.end())?);
    let value_change = units(end.position, &req.asset)? - units(start.position, &req.asset)?;
    let deposited = units(end.net_deposited, &req.asset)? - units(start.net_deposited, &req.asset)?;
    Ok(Some(value_change - deposited))
}

fn report(
    req: &Request,
    rewards: &[db::RewardRow],
    vault: Option<i128>,
    plan: &Plan<MerchantId>,
) -> Result<Report, DistributeError> {
    let s = |u: u128| money_of(u, &req.asset).map(|d| d.to_string());
    let mut allocations = Vec::with_capacity(plan.allocations.len());
    for a in &plan.allocations {
        allocations.push(AllocationLine {
            merchant_id: a.key,
            balance_seconds: a.weight.to_string(),
            twab: twab_of(a.weight, &req.period, &req.asset)?.to_string(),
            fees: s(a.fees_units)?,
            net: s(a.net_units)?,
        });
    }
    allocations.sort_by_key(|a| a.merchant_id);
    let mut sources: Vec<SourceLine> = rewards
        .iter()
        .map(|r| SourceLine {
            kind: "reward",
            id: YieldRewardId::from_uuid(r.id).to_string(),
            source: r.source.clone(),
            reference: r.reference.clone(),
            amount: r.amount.to_string(),
        })
        .collect();
    sources.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(v) = vault {
        sources.push(SourceLine {
            kind: "vault",
            id: "vault".to_owned(),
            source: "vault".to_owned(),
            reference: format!("{}/{}", req.period.start().to_rfc3339(), req.period.end().to_rfc3339()),
            amount: signed_money_of(v, &req.asset)?.to_string(),
        });
    }
    Ok(Report {
        summary: Summary {
            asset: req.asset.code.to_string(),
            period_start: req.period.start(),
            period_end: req.period.end(),
            take_rate_bps: req.waterfall.take_rate.get(),
            partner_name: req.partner_name.clone(),
            partner_share_bps: req.waterfall.partner_share.get(),
            min_balance: req.min_balance.amount().to_string(),
            excluded_jurisdictions: req.excluded_jurisdictions.iter().cloned().collect(),
            gross_yield: signed_money_of(plan.gross_units, &req.asset)?.to_string(),
            carried_loss_in: s(plan.carried_loss_in_units)?,
            distributable: s(plan.distributable_units)?,
            carried_loss_out: s(plan.carried_loss_out_units)?,
            platform: s(plan.platform_units)?,
            partner: s(plan.partner_units)?,
            merchants: s(plan.merchants_units)?,
            unclaimed: s(plan.unclaimed_units)?,
        },
        sources,
        balance_seconds_total: plan.allocations.iter().map(|a| a.weight).sum::<u128>().to_string(),
        allocations,
    })
}

/// A stored amount of `asset` in base units; an amount finer than the asset's scale is corrupt.
pub fn units(amount: Decimal, asset: &Asset) -> Result<i128, DistributeError> {
    let mut a = amount;
    a.rescale(asset.scale);
    if a != amount || a.scale() != asset.scale {
        return Err(StoreError::Corrupt(format!("{amount} is not an amount of {}", asset.code)).into());
    }
    Ok(a.mantissa())
}

/// Base units back to a decimal at the asset's scale.
pub fn money_of(units: u128, asset: &Asset) -> Result<Decimal, DistributeError> {
    signed_money_of(i128::try_from(units).map_err(|_| AllocateError::Overflow)?, asset)
}

fn signed_money_of(units: i128, asset: &Asset) -> Result<Decimal, DistributeError> {
    Ok(Decimal::try_from_i128_with_scale(units, asset.scale).map_err(|_| AllocateError::Overflow)?)
}

fn whole(n: u128) -> Result<Decimal, DistributeError> {
    Ok(
        Decimal::try_from_i128_with_scale(i128::try_from(n).map_err(|_| AllocateError::Overflow)?, 0)
            .map_err(|_| AllocateError::Overflow)?,
    )
}

/// Balance-seconds over the period's length, at the asset's scale, rounded toward zero.
pub fn twab_of(balance_seconds: u128, period: &Period, asset: &Asset) -> Result<Decimal, DistributeError> {
    let weight = Decimal::try_from_i128_with_scale(
        i128::try_from(balance_seconds).map_err(|_| AllocateError::Overflow)?,
        asset.scale,
    )
    .map_err(|_| AllocateError::Overflow)?;
    let avg = weight
        .checked_div(Decimal::from(period.seconds()))
        .ok_or(AllocateError::Overflow)?;
    Ok(avg.round_dp_with_strategy(asset.scale, RoundingStrategy::ToZero))
}
