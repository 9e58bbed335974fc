//! A reconciliation run over a period: the ramp orders expected in it, the bank lines booked in
//! it and the chain transfers seen in it (each widened by the date window), through the matching
//! engine, into a canonical report whose SHA-256 is stable across reruns of the same data.
//! A run only reads the books, the bank lines and the chain; it never posts to the ledger.

use crate::matching::{self, BankLine, Direction, Order, Outcome, Rules, Transfer};
use chrono::{Duration, NaiveDate};
use corridor_store::StoreError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// The longest period one run covers; keeps a run's reads bounded.
pub const PERIOD_DAYS_MAX: i64 = 92;

#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub results: usize,
    pub matched: usize,
    pub partially_matched: usize,
    pub ledger_only: usize,
    pub bank_only: usize,
    pub chain_only: usize,
    pub exceptions: usize,
}

pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub summary: Summary,
    pub hash: [u8; 32],
}

/// Reads the period's data and matches it (no writes).
pub async fn plan(conn: &mut PgConnection, period: Period, rules: Rules) -> Result<Report, StoreError> {
    let window = Duration::days(rules.date_window_days);
    let (from, to) = (period.from - window, period.to + window);
    let orders: Vec<Order> = sqlx::query!(
        r#"SELECT id, direction, bank_account_id, fiat_amount, fiat_currency, token_contract, token_units,
                  chain_address, reference, expected_on
             FROM reconciliation.ramp_orders WHERE expected_on BETWEEN $1 AND $2"#,
        period.from,
        period.to,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Order {
        id: r.id,
        direction: if r.direction == "on" {
            Direction::On
        } else {
            Direction::Off
        },
        bank_account_id: r.bank_account_id,
        fiat_amount: r.fiat_amount,
        fiat_currency: r.fiat_currency,
        token_contract: r.token_contract,
        token_units: r.token_units,
        chain_address: r.chain_address,
        reference: r.reference,
        expected_on: r.expected_on,
    })
    .collect();
    let lines: Vec<BankLine> = sqlx::query!(
        r#"SELECT id, bank_account_id, amount, currency, booking_date, duplicate_of,
                  lower(concat_ws(' ', end_to_end_id, reference, description, bank_reference)) AS "searchable!"
             FROM reconciliation.bank_lines WHERE booking_date BETWEEN $1 AND $2"#,
        from,
        to,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| BankLine {
        id: r.id,
        bank_account_id: r.bank_account_id,
        amount: r.amount,
        currency: r.currency,
        booking_date: r.booking_date,
        searchable: r.searchable,
        duplicate_of: r.duplicate_of,
    })
    .collect();
    // Transfers into the addresses ramp orders name (the treasury for on-ramps, partners'
    // deposit addresses for off-ramps), as the watcher recorded them. Merchants' direct deposits
    // are the payouts service's (booked there), and the token leg of an invoice payment (same
    // transaction, payer, token and amount as the InvoicePaid event) is invoicing's receipt, so
    // neither is ours to explain.
    let transfers: Vec<Transfer> = sqlx::query!(
        r#"SELECT o.id, o.contract, o.fields->>'from' AS "from!", o.fields->>'to' AS "to!",
                  (o.fields->>'value')::numeric AS "units!", o.created_at::date AS "seen_on!",
                  o.status = 'orphaned' AS "orphaned!"
             FROM chain.observations o
            WHERE o.kind = 'erc20_transfer' AND o.created_at::date BETWEEN $1 AND $2
              AND o.fields->>'to' IN (SELECT chain_address FROM reconciliation.ramp_orders)
              AND NOT EXISTS (SELECT 1 FROM payouts.deposits d WHERE d.observation_id = o.id)
              AND NOT EXISTS (SELECT 1 FROM chain.observations p
                               WHERE p.kind = 'invoice_paid' AND p.chain_id = o.chain_id
                                 AND p.tx_hash = o.tx_hash
                                 AND p.fields->>'payer' = o.fields->>'from'
                                 AND p.fields->>'token' = o.contract
                                 AND p.fields->>'amount' = o.fields->>'value')"#,
        from,
        to,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Transfer {
        id: r.id,
        token_contract: r.contract,
        from: r.from,
        to: r.to,
        units: r.units,
        seen_on: r.seen_on,
        orphaned: r.orphaned,
    })
    .collect();
    let manual = manual(conn).await?;
    // Lines and transfers are read a window beyond the period so an order near its edge still
    // finds them; one left over from outside the period belongs to the neighbouring run and is
    // not reported here as unexplained.
    let outside: std::collections::HashSet<Uuid> = lines
        .iter()
        .filter(|l| l.booking_date.is_none_or(|d| d < period.from || d > period.to))
        .map(|l| l.id)
        .chain(
            transfers
                .iter()
                .filter(|t| t.seen_on < period.from || t.seen_on > period.to)
                .map(|t| t.id),
        )
        .collect();
    let outcomes: Vec<Outcome> = matching::reconcile(orders, lines, transfers, rules, &manual)
        .into_iter()
        .filter(|o| o.order_id.is_some() || !o.bank_line_id.or(o.transfer_id).is_some_and(|id| outside.contains(&id)))
        .collect();
    let summary = Summary {
        results: outcomes.len(),
        matched: count(&outcomes, matching::Status::Matched),
        partially_matched: count(&outcomes, matching::Status::PartiallyMatched),
        ledger_only: count(&outcomes, matching::Status::LedgerOnly),
        bank_only: count(&outcomes, matching::Status::BankOnly),
        chain_only: count(&outcomes, matching::Status::ChainOnly),
        exceptions: outcomes.iter().filter(|o| !o.exceptions.is_empty()).count(),
    };
    let hash = report_hash(period, rules, &outcomes);
    Ok(Report {
        outcomes,
        summary,
        hash,
    })
}

/// The latest manual decision for each (order, line or transfer) pair.
async fn manual(conn: &mut PgConnection) -> Result<matching::Manual, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (order_id, COALESCE(bank_line_id, observation_id))
                  kind, order_id, COALESCE(bank_line_id, observation_id) AS "other!", reason
             FROM reconciliation.manual_decisions
            ORDER BY order_id, COALESCE(bank_line_id, observation_id), decided_at DESC, id DESC"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut m = matching::Manual::default();
    for r in rows {
        if r.kind == "match" {
            m.pinned.entry(r.order_id).or_default().push((r.other, r.reason));
        } else {
            m.forbidden.insert((r.order_id, r.other));
        }
    }
    Ok(m)
}

fn count(outcomes: &[Outcome], status: matching::Status) -> usize {
    outcomes.iter().filter(|o| o.status == status).count()
}

/// SHA-256 over the period, the rules and every outcome in the engine's order.
fn report_hash(period: Period, rules: Rules, outcomes: &[Outcome]) -> [u8; 32] {
    #[derive(Serialize)]
    struct Canonical<'a> {
        from: NaiveDate,
        to: NaiveDate,
        amount_drift: String,
        date_window_days: i64,
        timing_days: i64,
        outcomes: &'a [Outcome],
    }
    let bytes = serde_json::to_vec(&Canonical {
        from: period.from,
        to: period.to,
        amount_drift: rules.amount_drift.normalize().to_string(),
        date_window_days: rules.date_window_days,
        timing_days: rules.timing_days,
        outcomes,
    })
    .unwrap_or_default();
    Sha256::digest(&bytes).into()
}

/// Stores a run and its results.
pub async fn record(
    conn: &mut PgConnection,
    period: Period,
    rules: Rules,
    report: &Report,
    actor: Option<Uuid>,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let rules_json = serde_json::json!({
        "amount_drift": rules.amount_drift.to_string(),
        "date_window_days": rules.date_window_days,
        "timing_days": rules.timing_days,
    });
    let summary = serde_json::to_value(&report.summary).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query!(
        r#"INSERT INTO reconciliation.runs (id, period_from, period_to, rules, report_hash, summary, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        id,
        period.from,
        period.to,
        rules_json,
        &report.hash[..],
        summary,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    // In chunks: one statement per million results queues a million foreign-key checks at once.
    for (chunk_no, chunk) in report.outcomes.chunks(RESULTS_PER_INSERT).enumerate() {
        insert_results(conn, id, chunk_no * RESULTS_PER_INSERT, chunk).await?;
    }
    Ok(id)
}

/// Results written per INSERT.
const RESULTS_PER_INSERT: usize = 10_000;

async fn insert_results(
    conn: &mut PgConnection,
    run: Uuid,
    first_seq: usize,
    outcomes: &[Outcome],
) -> Result<(), StoreError> {
    let n = outcomes.len();
    let mut seqs = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut exceptions = Vec::with_capacity(n);
    let mut orders = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    let mut transfers = Vec::with_capacity(n);
    let mut confidences = Vec::with_capacity(n);
    let mut details = Vec::with_capacity(n);
    for (i, o) in outcomes.iter().enumerate() {
        seqs.push(i32::try_from(first_seq + i).map_err(|_| StoreError::Corrupt("too many results".into()))?);
        statuses.push(o.status.as_str().to_owned());
        // One text per result: the exceptions comma-separated, unpacked in SQL.
        exceptions.push(o.exceptions.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(","));
        orders.push(o.order_id);
        lines.push(o.bank_line_id);
        transfers.push(o.transfer_id);
        confidences.push(i16::from(o.confidence));
        details.push(o.detail.clone());
    }
    sqlx::query!(
        r#"INSERT INTO reconciliation.results
               (run_id, seq, status, exceptions, order_id, bank_line_id, observation_id, confidence, detail)
           SELECT $1, seq, status, CASE WHEN exc = '' THEN '{}'::text[] ELSE string_to_array(exc, ',') END,
                  ord, line, obs, conf, detail
             FROM UNNEST($2::int4[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::uuid[], $8::int2[], $9::text[])
                  AS t(seq, status, exc, ord, line, obs, conf, detail)"#,
        run,
        &seqs,
        &statuses,
        &exceptions,
        &orders as &[Option<Uuid>],
        &lines as &[Option<Uuid>],
        &transfers as &[Option<Uuid>],
        &confidences,
        &details,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
