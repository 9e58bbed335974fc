//! The compliance pages: the review queue and a case page with its evidence, four-eyes state and
//! history. They act through the payouts service's JSON API over HTTP with the officer's own
//! session, so the API's role checks and four-eyes rules decide, never the console.

use crate::{
    api::{ApiRequest, api, text},
    session::{Session, csrf_ok, csrf_refused},
    views::{
        self, ApprovalRow, Bar, HitRow, PayoutFacts, QueueRow, ReasonView, ReviewPage, ReviewsPage, RuleOption,
        TimelineRow,
    },
};
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use corridor_platform::{AppState, auth::Role};
use serde::Deserialize;
use serde_json::{Value, json};

const COMPLIANCE: &[Role] = &[Role::ComplianceOfficer, Role::ComplianceLead];
/// The queue page shows this many held payouts, oldest first.
const QUEUE_ROWS_MAX: u32 = 100;
/// Timeline details are shown up to this many characters.
const DETAIL_CHARS_MAX: usize = 400;

/// The screening rules that hold a payout (`payouts::screening`), for the queue's filter.
const RULES: [(&str, &str); 3] = [
    ("sanctions_review", "Sanctions match or lists not current"),
    ("amount_review_threshold", "Amount at or above the review threshold"),
    ("travel_rule_data_missing", "Travel-rule data missing"),
];

/// The screening reasons recorded on a payout's timeline, each once.
fn reason_rules(payout: &Value) -> Vec<String> {
    let mut rules = Vec::new();
    for event in payout["timeline"].as_array().into_iter().flatten() {
        for reason in event["detail"]["reasons"].as_array().into_iter().flatten() {
            let rule = text(&reason["rule"]);
            if !rule.is_empty() && !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
    rules
}

/// When the payout was held (the screening that decided `held`), else when it was created.
fn held_since(payout: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let at = payout["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["status"] == "held" || e["detail"]["decision"] == "held")
        .map(|e| &e["at"])
        .unwrap_or(&payout["created_at"]);
    chrono::DateTime::parse_from_rfc3339(at.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    rule: String,
}

pub async fn queue(State(state): State<AppState>, session: Session, Query(q): Query<QueueQuery>) -> Response {
    if let Err(refused) = session.require(COMPLIANCE, "Compliance pages") {
        return refused;
    }
    let path = format!("/v1/compliance/payout-reviews?limit={QUEUE_ROWS_MAX}");
    let (status, body) = match api(&state, &session, ApiRequest::Get(&path)).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    if status != StatusCode::OK {
        return api_problem(status, &body);
    }
    let now = state.clock().now();
    let rows: Vec<QueueRow> = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| QueueRow {
            id: text(&p["id"]),
            reference: text(&p["client_reference"]),
            amount: text(&p["amount"]),
            asset: text(&p["asset"]),
            recipient: text(&p["recipient"]),
            age: held_since(p).map_or_else(String::new, |at| views::age((now - at).num_seconds())),
            reasons: reason_rules(p),
        })
        .filter(|row| q.rule.is_empty() || row.reasons.contains(&q.rule))
        .collect();
    views::render(
        StatusCode::OK,
        &ReviewsPage {
            title: "Review queue",
            bar: Bar::of(&session),
            rows,
            rules: RULES
                .iter()
                .map(|&(value, label)| RuleOption {
                    value,
                    label,
                    selected: q.rule == value,
                })
                .collect(),
            filter: q.rule,
            approvals_required: state.config().compliance.review_approvals,
        },
    )
}

/// The API's problem as a page (its detail says what to do).
fn api_problem(status: StatusCode, body: &Value) -> Response {
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not available to your role",
        _ => "The request could not be completed",
    };
    views::problem_page(status, heading, &text(&body["detail"]))
}

#[derive(Debug, Deserialize)]
pub struct CaseQuery {
    #[serde(default)]
    done: String,
}

pub async fn case(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Response {
    let flash = match q.done.as_str() {
        "claim" => "You have claimed this case.",
        "approve" => "Your approval is recorded.",
        "reject" => "The payout is rejected and its funds are released.",
        _ => "",
    };
    case_page(&state, &session, &id, StatusCode::OK, flash, "").await
}

async fn case_page(
    state: &AppState,
    session: &Session,
    id: &str,
    status: StatusCode,
    flash: &str,
    error: &str,
) -> Response {
    if let Err(refused) = session.require(COMPLIANCE, "Compliance pages") {
        return refused;
    }
    if !id.starts_with("po_") || !id[3..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return views::problem_page(StatusCode::NOT_FOUND, "Not found", "There is no payout with this id.");
    }
    let path = format!("/v1/compliance/payout-reviews/{id}");
    let (api_status, review) = match api(state, session, ApiRequest::Get(&path)).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    if api_status != StatusCode::OK {
        return api_problem(api_status, &review);
    }
    let p = &review["payout"];
    let approvals: Vec<ApprovalRow> = review["approvals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| ApprovalRow {
            email: text(&a["reviewer_email"]),
            at: views::when(&text(&a["approved_at"])),
            reason: text(&a["reason"]),
        })
        .collect();
    let mut reasons = Vec::new();
    for event in p["timeline"].as_array().into_iter().flatten() {
        for r in event["detail"]["reasons"].as_array().into_iter().flatten() {
            let evidence = &r["evidence"];
            reasons.push(ReasonView {
                rule: text(&r["rule"]),
                detail: text(&r["detail"]),
                hits: evidence["findings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| HitRow {
                        name: text(&f["name"]),
                        list: text(&f["list"]),
                        entry: text(&f["ent_num"]),
                        check: match text(&f["matched"]) {
                            m if !m.is_empty() => format!("{} “{m}”", text(&f["check"])),
                            _ => text(&f["check"]),
                        },
                        score: text(&f["score"]["overall"]),
                        breakdown: match &f["score"] {
                            Value::Null => text(&f["address"]),
                            s => format!(
                                "Jaro-Winkler {} · token set {} · threshold {}",
                                text(&s["jaro_winkler"]),
                                text(&s["token_set"]),
                                text(&f["threshold"])
                            ),
                        },
                    })
                    .collect(),
                lists: evidence["list_versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| {
                        let hash = text(&v["content_hash"]);
                        format!("{} {}", text(&v["source"]), &hash[..hash.len().min(12)])
                    })
                    .collect(),
            });
        }
    }
    let timeline = p["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TimelineRow {
            at: views::when(&text(&t["at"])),
            status: text(&t["status"]),
            detail: {
                let d = t["detail"].to_string();
                if d.chars().count() > DETAIL_CHARS_MAX {
                    d.chars().take(DETAIL_CHARS_MAX).collect::<String>() + "…"
                } else {
                    d
                }
            },
        })
        .collect();
    let page = ReviewPage {
        title: format!("Payout {id}"),
        bar: Bar::of(session),
        p: PayoutFacts {
            id: text(&p["id"]),
            status: text(&p["status"]),
            amount: text(&p["amount"]),
            fee: text(&p["fee"]),
            asset: text(&p["asset"]),
            recipient: text(&p["recipient"]),
            chain_id: text(&p["chain_id"]),
            beneficiary_id: text(&p["beneficiary_id"]),
            purpose: text(&p["purpose"]),
            reference: text(&p["client_reference"]),
            created_at: views::when(&text(&p["created_at"])),
            tx_hash: text(&p["tx_hash"]),
        },
        approvals_count: approvals.len(),
        approvals,
        approvals_required: review["approvals_required"].as_u64().unwrap_or_default(),
        approvals_missing: review["approvals_missing"].as_u64().unwrap_or_default(),
        decidable: p["status"] == "held",
        claimed_by: text(&review["claim"]["claimed_by_email"]),
        claimed_at: views::when(&text(&review["claim"]["claimed_at"])),
        claimed_by_me: review["claim"]["claimed_by"] == session.user_id.to_string().as_str(),
        reasons,
        timeline,
        flash: flash.to_owned(),
        error: error.to_owned(),
    };
    views::render(status, &page)
}

#[derive(Debug, Deserialize)]
pub struct ClaimForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    take_over: Option<String>,
}

pub async fn claim(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ClaimForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf) {
        return csrf_refused();
    }
    if let Err(refused) = session.require(COMPLIANCE, "Compliance decisions") {
        return refused;
    }
    let path = format!("/v1/compliance/payout-reviews/{id}/claim");
    let body = json!({ "take_over": form.take_over.is_some() });
    let (status, answer) = match api(&state, &session, ApiRequest::Post(&path, body)).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    if status == StatusCode::OK {
        return Redirect::to(&format!("/console/compliance/reviews/{id}?done=claim")).into_response();
    }
    case_page(&state, &session, &id, status, "", &text(&answer["detail"])).await
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

pub async fn decide(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf) {
        return csrf_refused();
    }
    if let Err(refused) = session.require(COMPLIANCE, "Compliance decisions") {
        return refused;
    }
    if form.decision != "approve" && form.decision != "reject" {
        let error = "Choose Approve or Reject.";
        return case_page(&state, &session, &id, StatusCode::UNPROCESSABLE_ENTITY, "", error).await;
    }
    if form.reason.trim().is_empty() {
        let error = "Give a reason: it is kept with the decision and hashed into it.";
        return case_page(&state, &session, &id, StatusCode::UNPROCESSABLE_ENTITY, "", error).await;
    }
    let path = format!("/v1/compliance/payout-reviews/{id}");
    let body = json!({ "decision": form.decision, "reason": form.reason.trim() });
    let (status, answer) = match api(&state, &session, ApiRequest::Post(&path, body)).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    if status == StatusCode::OK {
        return Redirect::to(&format!("/console/compliance/reviews/{id}?done={}", form.decision)).into_response();
    }
    let error = match text(&answer["code"]).as_str() {
        "four_eyes_same_reviewer" => {
            "You have already approved this payout. Four eyes: a different officer must give the next approval."
                .to_owned()
        }
        _ => text(&answer["detail"]),
    };
    case_page(&state, &session, &id, status, "", &error).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_the_hold_time_come_from_the_timeline() {
        let payout = json!({
            "created_at": "2026-12-02T10:00:00Z",
            "timeline": [
                { "status": "pending_screening", "at": "2026-12-02T10:00:00Z", "detail": {} },
                { "status": "screened", "at": "2026-12-02T10:00:05Z", "detail": { "decision": "held", "reasons": [
                    { "rule": "amount_review_threshold" }, { "rule": "travel_rule_data_missing" } ] } },
                { "status": "held", "at": "2026-12-02T10:01:00Z", "detail": { "reasons": [
                    { "rule": "amount_review_threshold" } ] } }
            ]
        });
        assert_eq!(
            reason_rules(&payout),
            ["amount_review_threshold", "travel_rule_data_missing"]
        );
        assert_eq!(held_since(&payout).unwrap().to_rfc3339(), "2026-12-02T10:00:05+00:00");
        assert_eq!(reason_rules(&json!({})), Vec::<String>::new());
    }
}
