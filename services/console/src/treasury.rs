//! The treasury pages: import a bank statement, run a reconciliation, and resolve an exception
//! by matching an order with a bank line by hand. Each action goes through the reconciliation
//! service's JSON API with the treasurer's own session, so its rules and audit apply.

use crate::{
    api::{ApiRequest, api, text},
    session::{Session, csrf_ok, csrf_refused},
    views::{self, Bar, Choice, ResultRow, TreasuryPage},
};
use axum::{
    Form,
    extract::{Multipart, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use corridor_platform::{AppState, auth::Role};
use serde::Deserialize;
use serde_json::{Value, json};

const TREASURY: &[Role] = &[Role::Treasury];
/// A statement upload larger than this is refused before it is read whole.
const STATEMENT_BYTES_MAX: usize = 16 * 1024 * 1024;

struct Outcome {
    notice: String,
    error: String,
    period: (String, String),
    run: Option<Value>,
}

/// A treasury form: the CSRF token first (a forged form learns nothing), then the role.
fn allowed(headers: &HeaderMap, csrf: &str, session: &Session) -> Result<(), Response> {
    if !csrf_ok(headers, csrf) {
        return Err(csrf_refused());
    }
    session.require(TREASURY, "Treasury pages")
}

fn default_period(state: &AppState) -> (String, String) {
    let today = state.clock().now().date_naive();
    ((today - chrono::Duration::days(1)).to_string(), today.to_string())
}

fn page(session: &Session, status: StatusCode, outcome: Outcome) -> Response {
    let (from, to) = outcome.period;
    let mut page = TreasuryPage {
        title: "Reconciliation",
        bar: Bar::of(session),
        notice: outcome.notice,
        error: outcome.error,
        from,
        to,
        has_run: false,
        run_id: String::new(),
        summary: String::new(),
        results: Vec::new(),
        orders: Vec::new(),
        bank_lines: Vec::new(),
    };
    if let Some(run) = outcome.run {
        page.has_run = true;
        page.run_id = text(&run["id"]);
        page.summary = run["summary"].to_string();
        for r in run["results"].as_array().into_iter().flatten() {
            let exceptions: Vec<String> = r["exceptions"].as_array().into_iter().flatten().map(text).collect();
            let (order, line) = (text(&r["order_id"]), text(&r["bank_line_id"]));
            // What can be matched by hand: orders still missing their bank line, and bank
            // lines nobody ordered.
            if !order.is_empty() && line.is_empty() {
                page.orders.push(Choice {
                    value: order.clone(),
                    label: format!("{order} ({})", exceptions.join(", ")),
                });
            }
            if order.is_empty() && !line.is_empty() {
                page.bank_lines.push(Choice {
                    value: line.clone(),
                    label: format!("{line}: {}", text(&r["detail"])),
                });
            }
            page.results.push(ResultRow {
                status: text(&r["status"]),
                exceptions,
                order,
                bank_line: line,
                transfer: text(&r["observation_id"]),
                detail: text(&r["detail"]),
            });
        }
    }
    views::render(status, &page)
}

pub async fn overview(State(state): State<AppState>, session: Session) -> Response {
    if let Err(refused) = session.require(TREASURY, "Treasury pages") {
        return refused;
    }
    let outcome = Outcome {
        notice: String::new(),
        error: String::new(),
        period: default_period(&state),
        run: None,
    };
    page(&session, StatusCode::OK, outcome)
}

/// A multipart form with the CSRF token and one file.
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let (mut csrf, mut file) = (String::new(), None);
    // Bounded: the form has two fields; anything after them is ignored.
    for _ in 0..4 {
        let Ok(Some(field)) = form.next_field().await else {
            break;
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("statement") => {
                let name = field.file_name().unwrap_or("statement").to_owned();
                match field.bytes().await {
                    Ok(bytes) if bytes.len() <= STATEMENT_BYTES_MAX => file = Some((name, bytes.to_vec())),
                    _ => file = Some((name, Vec::new())),
                }
            }
            _ => {}
        }
    }
    if let Err(refused) = allowed(&headers, &csrf, &session) {
        return refused;
    }
    let mut outcome = Outcome {
        notice: String::new(),
        error: String::new(),
        period: default_period(&state),
        run: None,
    };
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        outcome.error = format!("Choose a statement file (at most {} MiB).", STATEMENT_BYTES_MAX >> 20);
        return page(&session, StatusCode::UNPROCESSABLE_ENTITY, outcome);
    };
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("file_name", &name)
        .finish();
    let path = format!("/v1/treasury/reconciliation/statements?{query}");
    let (status, body) = match api(&state, &session, ApiRequest::Upload(&path, bytes)).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    if status == StatusCode::CREATED || status == StatusCode::OK {
        outcome.notice = format!(
            "Imported {name}: {} with {} line(s) in {} statement(s).",
            text(&body["format"]),
            text(&body["lines"]),
            text(&body["statements"])
        );
        page(&session, StatusCode::OK, outcome)
    } else {
        outcome.error = format!("{name} was not imported: {}", text(&body["detail"]));
        page(&session, status, outcome)
    }
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

async fn run_and_show(state: &AppState, session: &Session, from: String, to: String, notice: String) -> Response {
    let body = json!({ "from": from, "to": to });
    let mut outcome = Outcome {
        notice,
        error: String::new(),
        period: (from, to),
        run: None,
    };
    let (status, run) = match api(
        state,
        session,
        ApiRequest::Post("/v1/treasury/reconciliation/runs", body),
    )
    .await
    {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    if status == StatusCode::CREATED || status == StatusCode::OK {
        outcome.run = Some(run);
        page(session, StatusCode::OK, outcome)
    } else {
        outcome.error = text(&run["detail"]);
        page(session, status, outcome)
    }
}

pub async fn run(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<RunForm>,
) -> Response {
    if let Err(refused) = allowed(&headers, &form.csrf, &session) {
        return refused;
    }
    run_and_show(&state, &session, form.from, form.to, String::new()).await
}

#[derive(Debug, Deserialize)]
pub struct MatchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    bank_line_id: String,
    #[serde(default)]
    reason: String,
}

/// Records the match (audited, with its reason), then runs the period again to show its effect.
pub async fn manual_match(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<MatchForm>,
) -> Response {
    if let Err(refused) = allowed(&headers, &form.csrf, &session) {
        return refused;
    }
    let decision = json!({ "kind": "match", "order_id": form.order_id, "bank_line_id": form.bank_line_id,
                           "reason": form.reason.trim() });
    let (status, body) = match api(
        &state,
        &session,
        ApiRequest::Post("/v1/treasury/reconciliation/manual-decisions", decision),
    )
    .await
    {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    if status != StatusCode::CREATED && status != StatusCode::OK {
        let outcome = Outcome {
            notice: String::new(),
            error: format!("Not matched: {}", text(&body["detail"])),
            period: (form.from, form.to),
            run: None,
        };
        return page(&session, status, outcome);
    }
    let notice = format!(
        "Matched {} with {} by hand; the run below includes it.",
        form.order_id, form.bank_line_id
    );
    run_and_show(&state, &session, form.from, form.to, notice).await
}
