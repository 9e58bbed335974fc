//! Sanctions screening of every payout before anything is signed for it.
//!
//! The payouts service writes payouts as `pending_screening`; this job reads them (with their
//! beneficiary) from Postgres, screens the recipient address and the beneficiary's name against
//! the active lists, and writes one finding per payout into `compliance.payout_screenings`. The
//! payouts service's screening step waits for that finding and folds it into its decision, whose
//! hash goes on chain: an address hit blocks, a name hit holds for review, and no list at all,
//! or a list not confirmed current within the configured age, holds everything (fail closed).

use crate::api::{DEFAULT_THRESHOLD, ListCache, Loaded};
use corridor_store::StoreError;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Review,
    Block,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Review => "review",
            Outcome::Block => "block",
        }
    }
}

/// One payout's finding: the outcome and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub outcome: Outcome,
    pub findings: serde_json::Value,
    pub list_versions: serde_json::Value,
}

/// The active versions not confirmed current since `oldest_allowed`, as findings.
pub fn stale_lists(
    active: &[crate::versions::ListVersion],
    oldest_allowed: chrono::DateTime<chrono::Utc>,
) -> Vec<serde_json::Value> {
    active
        .iter()
        .filter(|v| v.confirmed_at < oldest_allowed)
        .map(|v| {
            json!({
                "check": "lists", "source": v.source, "version": v.id, "confirmed_at": v.confirmed_at,
                "detail": format!("the {} list was last confirmed current at {}: held until a current list is imported",
                    v.source, v.confirmed_at.to_rfc3339()),
            })
        })
        .collect()
}

/// Screens one recipient. Pure over the loaded index, so each outcome has a unit test. `stale`
/// holds the payout for review (a listed address still blocks).
pub fn screen(
    loaded: Option<&Loaded>,
    stale: &[serde_json::Value],
    name: &str,
    address: &str,
    threshold: f64,
) -> Finding {
    let Some(loaded) = loaded else {
        return Finding {
            outcome: Outcome::Review,
            findings: json!([{ "check": "lists", "detail": "no sanctions list is loaded: held until one is" }]),
            list_versions: json!([]),
        };
    };
    let list_versions = json!(
        loaded
            .versions
            .iter()
            .map(|v| json!({ "source": v.source, "id": v.id, "content_hash": v.content_hash }))
            .collect::<Vec<_>>()
    );
    let mut findings: Vec<serde_json::Value> = stale.to_vec();
    let mut outcome = if stale.is_empty() {
        Outcome::Allow
    } else {
        Outcome::Review
    };
    for e in loaded.index.screen_address(address) {
        outcome = Outcome::Block;
        findings.push(json!({
            "check": "address", "list": e.list, "ent_num": e.ent_num, "name": e.name, "address": address,
            "programs": e.programs,
        }));
    }
    for h in loaded.index.screen_name(name, threshold).into_iter().take(10) {
        if outcome == Outcome::Allow {
            outcome = Outcome::Review;
        }
        findings.push(json!({
            "check": "name", "list": h.entry.list, "ent_num": h.entry.ent_num, "name": h.entry.name,
            "matched": h.matched, "is_alias": h.is_alias, "kind": h.entry.kind.as_str(),
            "score": { "jaro_winkler": h.score.jaro_winkler, "token_set": h.score.token_set, "overall": h.score.overall },
            "threshold": threshold,
        }));
    }
    Finding {
        outcome,
        findings: serde_json::Value::Array(findings),
        list_versions,
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub allowed: u64,
    pub review: u64,
    pub blocked: u64,
}

/// Screens up to `limit` payouts that wait for a finding. Each finding is written once (a second
/// instance's duplicate is ignored), so running this anywhere, any number of times, is safe.
pub async fn screen_pending(
    pool: &PgPool,
    cache: &ListCache,
    max_age: std::time::Duration,
    limit: i64,
) -> Result<Report, StoreError> {
    let waiting = sqlx::query!(
        r#"SELECT p.id, p.recipient, b.name
             FROM payouts.payouts p JOIN payouts.beneficiaries b ON b.id = p.beneficiary_id
            WHERE p.status = 'pending_screening'
              AND NOT EXISTS (SELECT 1 FROM compliance.payout_screenings s WHERE s.payout_id = p.id)
            ORDER BY p.created_at, p.id LIMIT $1"#,
        limit,
    )
    .fetch_all(pool)
    .await?;
    let mut report = Report::default();
    if waiting.is_empty() {
        return Ok(report);
    }
    let loaded: Option<Arc<Loaded>> = cache.get(pool).await?;
    let active = crate::versions::active(&mut *pool.acquire().await?).await?;
    let max_age = chrono::Duration::from_std(max_age).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let stale = stale_lists(&active, chrono::Utc::now() - max_age);
    let mut tx = pool.begin().await?;
    for p in waiting {
        let f = screen(loaded.as_deref(), &stale, &p.name, &p.recipient, DEFAULT_THRESHOLD);
        sqlx::query!(
            r#"INSERT INTO compliance.payout_screenings (payout_id, outcome, findings, list_versions)
               VALUES ($1, $2, $3, $4) ON CONFLICT (payout_id) DO NOTHING"#,
            p.id,
            f.outcome.as_str(),
            f.findings,
            f.list_versions,
        )
        .execute(&mut *tx)
        .await?;
        match f.outcome {
            Outcome::Allow => report.allowed += 1,
            Outcome::Review => report.review += 1,
            Outcome::Block => report.blocked += 1,
        }
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        index::ScreeningIndex,
        lists::{EntityKind, ListEntry, ListedAddress},
    };

    fn loaded() -> Loaded {
        Loaded {
            versions: Vec::new(),
            index: ScreeningIndex::new(vec![ListEntry {
                list: "ofac_sdn".into(),
                ent_num: 27307,
                name: "LAZARUS GROUP".into(),
                kind: EntityKind::Entity,
                programs: vec!["DPRK3".into()],
                aliases: vec!["APPLEWORM".into()],
                countries: Vec::new(),
                dates_of_birth: Vec::new(),
                addresses: vec![ListedAddress {
                    ticker: "ETH".into(),
                    address: "0x098B716B8Aaf21512996dC57EB0615e2383E2f96".into(),
                }],
            }]),
        }
    }

    #[test]
    fn a_listed_address_blocks_a_listed_name_holds_and_no_list_holds_everything() {
        let l = loaded();
        let clean = "0x52908400098527886e0f7030069857d2e4169ee7";
        let listed = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
        assert_eq!(
            screen(Some(&l), &[], "Lagos Textiles Ltd", clean, 0.9).outcome,
            Outcome::Allow
        );
        let blocked = screen(Some(&l), &[], "Lagos Textiles Ltd", listed, 0.9);
        assert_eq!(blocked.outcome, Outcome::Block);
        assert_eq!(blocked.findings[0]["check"], "address");
        let named = screen(Some(&l), &[], "Lazarus Grup", clean, 0.9);
        assert_eq!(named.outcome, Outcome::Review);
        assert_eq!(named.findings[0]["name"], "LAZARUS GROUP");
        assert!(named.findings[0]["score"]["overall"].as_f64().unwrap() >= 0.9);
        // An address hit stays a block when the name also matches.
        assert_eq!(screen(Some(&l), &[], "Appleworm", listed, 0.9).outcome, Outcome::Block);
        assert_eq!(
            screen(None, &[], "Lagos Textiles Ltd", clean, 0.9).outcome,
            Outcome::Review
        );
        let stale = vec![json!({ "check": "lists", "source": "ofac_sdn" })];
        let held = screen(Some(&l), &stale, "Lagos Textiles Ltd", clean, 0.9);
        assert_eq!(
            (held.outcome, &held.findings[0]["check"]),
            (Outcome::Review, &json!("lists"))
        );
        assert_eq!(screen(Some(&l), &stale, "x", listed, 0.9).outcome, Outcome::Block);
    }
}
