//! Page templates (askama, HTML-escaped) and the values they show, formatted here so the
//! templates stay plain.

use crate::session::Session;
use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use corridor_platform::auth::Role;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

/// The top bar: who is signed in and what their role may open.
#[derive(Default)]
pub struct Bar {
    pub signed_in: bool,
    pub email: String,
    pub role: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
}

impl Bar {
    pub fn of(session: &Session) -> Bar {
        let nav = match session.role {
            Role::ComplianceOfficer | Role::ComplianceLead => vec![NavItem {
                href: "/console/compliance/reviews",
                label: "Review queue",
            }],
            Role::MerchantAdmin => vec![NavItem {
                href: "/console/merchant/api-keys",
                label: "API keys",
            }],
            Role::Treasury => vec![NavItem {
                href: "/console/treasury/reconciliation",
                label: "Reconciliation",
            }],
            Role::PlatformAdmin => Vec::new(),
        };
        Bar {
            signed_in: true,
            email: session.email.clone(),
            role: session.role.as_str().to_owned(),
            csrf: session.csrf.clone(),
            nav,
        }
    }
}

/// Renders a page; a template error is a 500 page, never a half-written one.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Something went wrong</h1>".to_owned()),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "problem.html")]
pub struct ProblemPage<'a> {
    pub title: &'a str,
    pub bar: Bar,
    pub heading: &'a str,
    pub detail: &'a str,
}

/// A page that explains what went wrong and what to do.
pub fn problem_page(status: StatusCode, heading: &str, detail: &str) -> Response {
    render(
        status,
        &ProblemPage {
            title: heading,
            bar: Bar::default(),
            heading,
            detail,
        },
    )
}

pub fn unavailable() -> Response {
    problem_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Corridor is not reachable right now",
        "The console could not reach its database or API. Try again in a minute; if it persists, tell your operator.",
    )
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub title: &'static str,
    pub bar: Bar,
    pub csrf: String,
    pub email: String,
    pub error: String,
    pub notice: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub title: &'static str,
    pub bar: Bar,
}

pub struct RuleOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub struct QueueRow {
    pub id: String,
    pub reference: String,
    pub amount: String,
    pub asset: String,
    pub recipient: String,
    pub age: String,
    pub reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "reviews.html")]
pub struct ReviewsPage {
    pub title: &'static str,
    pub bar: Bar,
    pub rows: Vec<QueueRow>,
    pub rules: Vec<RuleOption>,
    pub filter: String,
    pub approvals_required: u8,
}

pub struct PayoutFacts {
    pub id: String,
    pub status: String,
    pub amount: String,
    pub fee: String,
    pub asset: String,
    pub recipient: String,
    pub chain_id: String,
    pub beneficiary_id: String,
    pub purpose: String,
    pub reference: String,
    pub created_at: String,
    pub tx_hash: String,
}

pub struct ApprovalRow {
    pub email: String,
    pub at: String,
    pub reason: String,
}

pub struct HitRow {
    pub name: String,
    pub list: String,
    pub entry: String,
    pub check: String,
    pub score: String,
    pub breakdown: String,
}

pub struct ReasonView {
    pub rule: String,
    pub detail: String,
    pub hits: Vec<HitRow>,
    pub lists: Vec<String>,
}

pub struct TimelineRow {
    pub at: String,
    pub status: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "review.html")]
pub struct ReviewPage {
    pub title: String,
    pub bar: Bar,
    pub p: PayoutFacts,
    pub approvals: Vec<ApprovalRow>,
    pub approvals_count: usize,
    pub approvals_required: u64,
    pub approvals_missing: u64,
    pub decidable: bool,
    pub claimed_by: String,
    pub claimed_at: String,
    pub claimed_by_me: bool,
    pub reasons: Vec<ReasonView>,
    pub timeline: Vec<TimelineRow>,
    pub flash: String,
    pub error: String,
}

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_at: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
pub struct ApiKeysPage {
    pub title: &'static str,
    pub bar: Bar,
    pub keys: Vec<KeyRow>,
    pub scopes: Vec<&'static str>,
    pub secret: String,
    pub secret_name: String,
    pub error: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

pub struct ResultRow {
    pub status: String,
    pub exceptions: Vec<String>,
    pub order: String,
    pub bank_line: String,
    pub transfer: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "treasury.html")]
pub struct TreasuryPage {
    pub title: &'static str,
    pub bar: Bar,
    pub notice: String,
    pub error: String,
    pub from: String,
    pub to: String,
    pub has_run: bool,
    pub run_id: String,
    pub summary: String,
    pub results: Vec<ResultRow>,
    pub orders: Vec<Choice>,
    pub bank_lines: Vec<Choice>,
}

/// "3 h 20 min", "2 d 4 h": how long something has waited.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => "under a minute".to_owned(),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// An RFC 3339 time as "2026-12-02 10:41 UTC".
pub fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| rfc3339.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        assert_eq!(age(-5), "under a minute");
        assert_eq!(age(59), "under a minute");
        assert_eq!(age(61), "1 min");
        assert_eq!(age(3 * 3600 + 20 * 60), "3 h 20 min");
        assert_eq!(age(2 * 86400 + 4 * 3600), "2 d 4 h");
        assert_eq!(when("2026-12-02T10:41:07.123Z"), "2026-12-02 10:41 UTC");
        assert_eq!(when("not a time"), "not a time");
    }

    #[test]
    fn what_a_user_typed_is_escaped_in_every_page() {
        let page = LoginPage {
            title: "Sign in",
            bar: Bar::default(),
            csrf: "t".into(),
            email: "\"><script>alert(1)</script>".into(),
            error: String::new(),
            notice: String::new(),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>alert(1)"), "{html}");
        assert!(
            html.contains("&#34;&#62;&#60;script&#62;") || html.contains("&quot;&gt;&lt;script&gt;"),
            "{html}"
        );
    }
}
