//! The screening step every payout passes before anything is signed for it.
//!
//! The compliance service screens the recipient address and the beneficiary's name against the
//! sanctions lists and writes its finding to `compliance.payout_screenings`; this step waits for
//! that finding (fail closed: without it nothing moves), adds the payout rules that still live
//! here (an amount review threshold and travel-rule data; the compliance issue's policy engine
//! will take them over), and records the decision: a row in `payouts.screenings` with every
//! reason and evidence, and a hash of the decision record, which the settlement binds into the
//! attestation the PayoutRouter checks.

use crate::{db, payouts::emit};
use alloy_primitives::keccak256;
use corridor_domain::{
    AssetRegistry,
    ids::{HoldId, MerchantId, PayoutId},
};
use corridor_platform::config::PayoutPolicy;
use corridor_store::{StoreError, ledger};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub const SCREENER: &str = "sanctions+payout-rules/2";

/// FATF Recommendation 16's de minimis threshold (USD/EUR 1,000): at or above it the
/// beneficiary's identity must travel with the transfer.
pub const TRAVEL_RULE_THRESHOLD: Decimal = Decimal::from_parts(1_000, 0, 0, false, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Cleared,
    Held,
    /// A hit that forbids the transfer: a listed recipient address.
    Blocked,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Cleared => "cleared",
            Decision::Held => "held",
            Decision::Blocked => "blocked",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub rule: &'static str,
    pub detail: String,
    /// The hits behind a sanctions reason, as compliance recorded them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
}

/// The compliance service's sanctions finding for a payout.
#[derive(Debug, Clone)]
pub struct SanctionsFinding {
    /// allow, review or block.
    pub outcome: String,
    pub findings: serde_json::Value,
    pub list_versions: serde_json::Value,
}

/// What the screener needs to know about one payout.
#[derive(Debug, Clone)]
pub struct Subject {
    pub amount: Decimal,
    pub asset: String,
    pub has_travel_rule_data: bool,
    pub sanctions: SanctionsFinding,
}

/// The decision: the sanctions finding and the payout rules, the most severe wins. Pure, so
/// every rule has a unit test.
pub fn screen(subject: &Subject, policy: &PayoutPolicy) -> (Decision, Vec<Reason>) {
    let mut reasons = Vec::new();
    let mut blocked = false;
    let sanctions = &subject.sanctions;
    let evidence =
        || Some(serde_json::json!({ "findings": sanctions.findings, "list_versions": sanctions.list_versions }));
    match sanctions.outcome.as_str() {
        "allow" => {}
        "block" => {
            blocked = true;
            reasons.push(Reason {
                rule: "sanctions_address",
                detail: "the recipient address is on a sanctions list".into(),
                evidence: evidence(),
            });
        }
        // review, or anything this version does not know: never less than a human look.
        _ => reasons.push(Reason {
            rule: "sanctions_review",
            detail: "a sanctions list names someone like the beneficiary, or no list is loaded".into(),
            evidence: evidence(),
        }),
    }
    if subject.amount >= policy.review_threshold {
        reasons.push(Reason {
            rule: "amount_review_threshold",
            detail: format!(
                "{} {} is at or above the review threshold of {}",
                subject.amount, subject.asset, policy.review_threshold
            ),
            evidence: None,
        });
    }
    if subject.amount >= TRAVEL_RULE_THRESHOLD && !subject.has_travel_rule_data {
        reasons.push(Reason {
            rule: "travel_rule_data_missing",
            detail: format!(
                "{} {} is at or above {TRAVEL_RULE_THRESHOLD} and the beneficiary has no travel-rule identity data",
                subject.amount, subject.asset
            ),
            evidence: None,
        });
    }
    let decision = if blocked {
        Decision::Blocked
    } else if reasons.is_empty() {
        Decision::Cleared
    } else {
        Decision::Held
    };
    (decision, reasons)
}

/// The record a decision hash commits to; field order is fixed, so its JSON is canonical.
#[derive(Serialize)]
struct DecisionRecord<'a> {
    payout_id: String,
    decision: &'a str,
    by: &'a str,
    reasons: &'a serde_json::Value,
}

/// keccak256 of the canonical decision record, as 0x-hex.
pub fn decision_hash(payout: PayoutId, decision: &str, by: &str, reasons: &serde_json::Value) -> String {
    let record = DecisionRecord {
        payout_id: payout.to_string(),
        decision,
        by,
        reasons,
    };
    let bytes = serde_json::to_vec(&record).expect("a decision record always serializes");
    format!("{:#x}", keccak256(bytes))
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScreenReport {
    pub cleared: u64,
    pub held: u64,
    pub blocked: u64,
}

/// Screens up to `limit` payouts waiting for it, in one transaction: decision row, status,
/// timeline, and `payout.held` / `payout.rejected` events. A blocked payout is rejected and its
/// hold released in the same transaction.
pub async fn screen_pending(
    pool: &PgPool,
    policy: &PayoutPolicy,
    registry: &AssetRegistry,
    limit: i64,
) -> Result<ScreenReport, StoreError> {
    let mut tx = pool.begin().await?;
    let waiting = sqlx::query!(
        r#"SELECT p.id, p.merchant_id, p.amount, p.asset, p.hold_id, b.travel_rule IS NOT NULL AS "has_travel_rule!",
                  s.outcome, s.findings, s.list_versions
             FROM payouts.payouts p
             JOIN payouts.beneficiaries b ON b.id = p.beneficiary_id
             JOIN compliance.payout_screenings s ON s.payout_id = p.id
            WHERE p.status = 'pending_screening'
            ORDER BY p.created_at, p.id LIMIT $1
            FOR UPDATE OF p SKIP LOCKED"#,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut report = ScreenReport::default();
    for row in waiting {
        let id = PayoutId::from_uuid(row.id);
        let subject = Subject {
            amount: row.amount,
            asset: row.asset,
            has_travel_rule_data: row.has_travel_rule,
            sanctions: SanctionsFinding {
                outcome: row.outcome,
                findings: row.findings,
                list_versions: row.list_versions,
            },
        };
        let (decision, reasons) = screen(&subject, policy);
        let reasons = serde_json::to_value(&reasons).expect("reasons serialize");
        let hash = decision_hash(id, decision.as_str(), SCREENER, &reasons);
        record(&mut tx, id, decision, &reasons, &hash).await?;
        let merchant = MerchantId::from_uuid(row.merchant_id);
        let detail = serde_json::json!({ "decision": decision.as_str(), "screener": SCREENER, "reasons": reasons, "decision_hash": hash });
        match decision {
            Decision::Cleared => {
                db::set_decided(&mut tx, id, "cleared", &hash).await?;
                db::append_timeline(&mut tx, id, "screened", &detail).await?;
                report.cleared += 1;
            }
            Decision::Held => {
                let row = db::set_decided(&mut tx, id, "held", &hash).await?;
                db::append_timeline(&mut tx, id, "screened", &detail).await?;
                emit(&mut tx, merchant, "payout.held", row.into()).await?;
                report.held += 1;
            }
            Decision::Blocked => {
                ledger::void_hold(
                    &mut tx,
                    HoldId::from_uuid(row.hold_id),
                    &format!("payout {id} blocked by screening"),
                    registry,
                )
                .await?;
                db::set_decided(&mut tx, id, "rejected", &hash).await?;
                let row = db::set_failure(
                    &mut tx,
                    id,
                    "rejected",
                    "sanctions_blocked",
                    "the recipient address is on a sanctions list; the payout was rejected and the funds released",
                )
                .await?;
                db::append_timeline(&mut tx, id, "screened", &detail).await?;
                emit(&mut tx, merchant, "payout.rejected", row.into()).await?;
                report.blocked += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

async fn record(
    conn: &mut PgConnection,
    payout: PayoutId,
    decision: Decision,
    reasons: &serde_json::Value,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO payouts.screenings (id, payout_id, decision, screener, reasons, decision_hash)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        Uuid::now_v7(),
        payout.as_uuid(),
        decision.as_str(),
        SCREENER,
        reasons,
        hash,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn policy() -> PayoutPolicy {
        PayoutPolicy {
            cooling_off: Duration::ZERO,
            fee_bps: 0,
            fee_fixed: Decimal::ZERO,
            review_threshold: Decimal::from(10_000),
            quote_ttl: Duration::from_secs(30),
            fx_rates: Vec::new(),
        }
    }

    fn subject(amount: &str, travel: bool) -> Subject {
        with_sanctions(amount, travel, "allow")
    }

    fn with_sanctions(amount: &str, travel: bool, outcome: &str) -> Subject {
        Subject {
            amount: amount.parse().unwrap(),
            asset: "USDC".into(),
            has_travel_rule_data: travel,
            sanctions: SanctionsFinding {
                outcome: outcome.into(),
                findings: serde_json::json!([]),
                list_versions: serde_json::json!([{ "source": "ofac_sdn" }]),
            },
        }
    }

    #[test]
    fn a_sanctions_block_wins_a_review_holds_and_the_evidence_is_kept() {
        let (d, r) = screen(&with_sanctions("5", true, "block"), &policy());
        assert_eq!((d, r[0].rule), (Decision::Blocked, "sanctions_address"));
        assert_eq!(
            r[0].evidence.as_ref().unwrap()["list_versions"][0]["source"],
            "ofac_sdn"
        );
        assert_eq!(
            screen(&with_sanctions("20000", false, "block"), &policy()).0,
            Decision::Blocked
        );
        let (d, r) = screen(&with_sanctions("5", true, "review"), &policy());
        assert_eq!((d, r[0].rule), (Decision::Held, "sanctions_review"));
        assert_eq!(
            screen(&with_sanctions("5", true, "unheard-of"), &policy()).0,
            Decision::Held
        );
    }

    #[test]
    fn small_payouts_clear_and_the_thresholds_are_inclusive() {
        assert_eq!(screen(&subject("999.999999", false), &policy()).0, Decision::Cleared);
        let (d, r) = screen(&subject("1000", false), &policy());
        assert_eq!((d, r[0].rule), (Decision::Held, "travel_rule_data_missing"));
        assert_eq!(screen(&subject("1000", true), &policy()).0, Decision::Cleared);
        let (d, r) = screen(&subject("10000", true), &policy());
        assert_eq!((d, r.len(), r[0].rule), (Decision::Held, 1, "amount_review_threshold"));
        assert_eq!(
            screen(&subject("10000", false), &policy()).1.len(),
            2,
            "both rules are recorded"
        );
    }

    #[test]
    fn the_decision_hash_commits_to_every_field() {
        let id = PayoutId::new();
        let reasons = serde_json::json!([]);
        let h = decision_hash(id, "cleared", SCREENER, &reasons);
        assert_eq!(h.len(), 66);
        assert_eq!(h, decision_hash(id, "cleared", SCREENER, &reasons));
        assert_ne!(h, decision_hash(id, "held", SCREENER, &reasons));
        assert_ne!(h, decision_hash(PayoutId::new(), "cleared", SCREENER, &reasons));
        assert_ne!(h, decision_hash(id, "cleared", "someone", &reasons));
        assert_ne!(h, decision_hash(id, "cleared", SCREENER, &serde_json::json!([1])));
    }
}
