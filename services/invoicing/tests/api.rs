//! The invoice API over real Postgres: drafts, totals, finalization and numbering, voiding,
//! listing, export, the pay page, and every bad input refused with nothing changed.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use corridor_domain::AssetRegistry;
use serde_json::json;
use sqlx::PgPool;

const BASE: u64 = 8453;

async fn app(pool: PgPool) -> App {
    App::new(pool, AssetRegistry::builtin()).await
}

fn body() -> serde_json::Value {
    json!({
        "currency": "USDC",
        "buyer": { "name": "Lagos Textiles Ltd", "email": "ap@lagos.example", "country": "NG",
                   "wallet": "0x52908400098527886e0f7030069857d2e4169ee7" },
        "line_items": [
            { "description": "Cotton fabric, 40 m", "quantity": "2", "unit_price": "500.00", "tax_rate": "19" },
            { "description": "Freight <by sea>", "quantity": "1", "unit_price": "60" }
        ],
        "due_at": (chrono::Utc::now() + chrono::Duration::days(14)).to_rfc3339(),
        "memo": "PO 7731",
        "chains": [BASE],
        "expected_total": "1250"
    })
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_draft_is_created_once_edited_finalized_with_the_next_number_and_voided(pool: PgPool) {
    let app = app(pool).await;
    let (_, key) = app.merchant().await;
    app.send(Method::POST, "/v1/invoices", &key, None, Some(body()))
        .await
        .problem(StatusCode::BAD_REQUEST, "idempotency_key_missing");
    let first = body();
    let created = app
        .send(Method::POST, "/v1/invoices", &key, Some("i1"), Some(first.clone()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let inv = &created.body;
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["number"], serde_json::Value::Null);
    assert_eq!(
        (
            inv["subtotal"].as_str(),
            inv["tax_total"].as_str(),
            inv["total"].as_str()
        ),
        (Some("1060.000000"), Some("190.000000"), Some("1250.000000"))
    );
    assert_eq!(inv["buyer"]["wallet"], "0x52908400098527886E0F7030069857D2E4169EE7");
    assert_eq!(inv["payment_options"], json!([{ "chain_id": BASE, "asset": "USDC" }]));
    // A draft shows no reference or page yet.
    assert!(inv["payment_reference"].is_null() && inv["hosted_url"].is_null());
    let id = inv["id"].as_str().unwrap().to_owned();
    // The same key replays the same invoice; it is not created twice.
    let again = app
        .send(Method::POST, "/v1/invoices", &key, Some("i1"), Some(first))
        .await;
    assert_eq!(again.body["id"], inv["id"]);
    // The key with another body is refused, not silently applied.
    app.send(Method::POST, "/v1/invoices", &key, Some("i1"), Some(body()))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    assert_eq!(app.count("SELECT count(*) FROM invoicing.invoices").await, 1);

    // Edit the draft.
    let mut edited = body();
    edited["line_items"][1]["unit_price"] = json!("70");
    edited["expected_total"] = json!("1260");
    let put = app
        .send(
            Method::PUT,
            &format!("/v1/invoices/{id}"),
            &key,
            None,
            Some(edited.clone()),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["total"], "1260.000000");

    // Finalize: number 1, reference and page; finalizing again changes nothing.
    let fin = app
        .send(Method::POST, &format!("/v1/invoices/{id}/finalize"), &key, None, None)
        .await;
    assert_eq!(fin.status, StatusCode::OK, "{}", fin.body);
    assert_eq!(
        (fin.body["status"].as_str(), fin.body["number"].as_i64()),
        (Some("open"), Some(1))
    );
    let reference = fin.body["payment_reference"].as_str().unwrap().to_owned();
    assert_eq!(reference.len(), 66);
    let again = app
        .send(Method::POST, &format!("/v1/invoices/{id}/finalize"), &key, None, None)
        .await;
    assert_eq!(
        (again.body["number"].as_i64(), again.body["payment_reference"].as_str()),
        (Some(1), Some(reference.as_str()))
    );

    // A finalized invoice cannot be edited.
    app.send(Method::PUT, &format!("/v1/invoices/{id}"), &key, None, Some(edited))
        .await
        .problem(StatusCode::CONFLICT, "invoice_not_draft");

    // The next one gets number 2; a second merchant starts at 1.
    let second = app.open_invoice(&key, invoice_body("USDC", "5", BASE)).await;
    assert_eq!(second["number"], 2);
    let (_, other_key) = app.merchant().await;
    assert_eq!(
        app.open_invoice(&other_key, invoice_body("USDC", "5", BASE)).await["number"],
        1
    );

    // The pay page: public (no key), HTML, escaped, shows the reference.
    let url = fin.body["hosted_url"].as_str().unwrap();
    let (status, content_type, html) = app.http.get_text(url, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.contains(&reference), "{html}");
    assert!(html.contains("Freight &lt;by sea&gt;"), "{html}");
    assert!(
        html.contains("http-equiv=\"refresh\""),
        "an open invoice refreshes itself"
    );
    let (status, _, _) = app.http.get_text("/pay/0123456789abcdef0123456789abcdef", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Void: once, and the page says so.
    let void = app
        .send(Method::POST, &format!("/v1/invoices/{id}/void"), &key, None, None)
        .await;
    assert_eq!(void.body["status"], "void", "{}", void.body);
    let again = app
        .send(Method::POST, &format!("/v1/invoices/{id}/void"), &key, None, None)
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let (_, _, html) = app.http.get_text(url, "").await;
    assert!(html.contains("voided"), "{html}");
    app.send(Method::POST, &format!("/v1/invoices/{id}/finalize"), &key, None, None)
        .await
        .problem(StatusCode::CONFLICT, "invoice_void");
    assert_eq!(
        app.events("invoice.%").await,
        [
            "invoice.created",
            "invoice.finalized",
            "invoice.created",
            "invoice.finalized",
            "invoice.created",
            "invoice.finalized",
            "invoice.voided"
        ]
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn bad_input_is_refused_with_a_stable_code_and_nothing_changes(pool: PgPool) {
    let app = app(pool).await;
    let (_, key) = app.merchant().await;
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            {
                let mut b = body();
                b["line_items"][0]["quantity"] = json!("-2");
                b
            },
            "invalid_quantity",
        ),
        (
            {
                let mut b = body();
                b["expected_total"] = json!("1200.00");
                b
            },
            "total_mismatch",
        ),
        (
            {
                let mut b = body();
                b["currency"] = json!("ZZZ");
                b
            },
            "unknown_currency",
        ),
        (
            {
                let mut b = body();
                b["currency"] = json!("EUR");
                b
            },
            "currency_not_supported",
        ),
        (
            {
                let mut b = body();
                b["line_items"] = json!([]);
                b
            },
            "invalid_line_items",
        ),
        (
            {
                let mut b = body();
                b["chains"] = json!([137]);
                b["currency"] = json!("EURC");
                b.as_object_mut().unwrap().remove("expected_total");
                b
            },
            "unsupported_chain",
        ),
    ];
    for (i, (b, code)) in cases.into_iter().enumerate() {
        app.send(Method::POST, "/v1/invoices", &key, Some(&format!("bad-{i}")), Some(b))
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    // Unknown fields are refused too.
    let mut extra = body();
    extra["discount"] = json!("10");
    assert_eq!(
        app.send(Method::POST, "/v1/invoices", &key, Some("bad-x"), Some(extra))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.count("SELECT count(*) FROM invoicing.invoices").await, 0);

    // A due date in the past is refused at finalize, and the draft stays a draft.
    let mut past = body();
    past["due_at"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    let draft = app
        .send(Method::POST, "/v1/invoices", &key, Some("past"), Some(past))
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.body);
    let id = draft.body["id"].as_str().unwrap();
    app.send(Method::POST, &format!("/v1/invoices/{id}/finalize"), &key, None, None)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "due_date_in_past");
    assert_eq!(app.invoice(&key, id).await["status"], "draft");
    assert_eq!(
        app.count("SELECT count(*) FROM invoicing.numbers").await,
        0,
        "no number was taken"
    );

    // Another merchant's invoice is not found, for every verb.
    let (_, other) = app.merchant().await;
    for (method, path) in [
        (Method::GET, format!("/v1/invoices/{id}")),
        (Method::POST, format!("/v1/invoices/{id}/finalize")),
        (Method::POST, format!("/v1/invoices/{id}/void")),
        (Method::GET, format!("/v1/invoices/{id}/payments")),
        (Method::GET, "/v1/invoices/inv_nothex".to_owned()),
    ] {
        app.send(method, &path, &other, None, None)
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
    app.send(Method::PUT, &format!("/v1/invoices/{id}"), &other, None, Some(body()))
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.invoice(&key, id).await["status"], "draft");
    assert_eq!(app.events("invoice.%").await, ["invoice.created"]);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn invoices_are_listed_by_status_with_cursors_exported_as_csv_and_expired_when_overdue(pool: PgPool) {
    let app = app(pool).await;
    let (_, key) = app.merchant().await;
    for i in 1..=3 {
        app.open_invoice(&key, invoice_body("USDC", &format!("{i}"), BASE))
            .await;
    }
    app.send(Method::POST, "/v1/invoices", &key, Some("d"), Some(body()))
        .await;
    let page = app
        .send(Method::GET, "/v1/invoices?status=open&limit=2", &key, None, None)
        .await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2, "{}", page.body);
    assert_eq!(page.body["data"][0]["number"], 3, "newest first");
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .send(
            Method::GET,
            &format!("/v1/invoices?status=open&limit=2&cursor={cursor}"),
            &key,
            None,
            None,
        )
        .await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["has_more"], false);
    app.send(Method::GET, "/v1/invoices?status=bogus", &key, None, None)
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_query");

    let (status, content_type, csv) = app.http.get_text("/v1/invoices/export?status=open", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], corridor_invoicing::api::EXPORT_COLUMNS.join(","));
    assert_eq!(lines.len(), 4);

    // Overdue open invoices expire once; drafts do not.
    let later = chrono::Utc::now() + chrono::Duration::days(8);
    assert_eq!(
        corridor_invoicing::detection::expire_overdue(&app.pool, later, 100)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        corridor_invoicing::detection::expire_overdue(&app.pool, later, 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.events("invoice.expired").await.len(), 3);
    let expired = app
        .send(Method::GET, "/v1/invoices?status=expired", &key, None, None)
        .await;
    assert_eq!(expired.body["data"].as_array().unwrap().len(), 3);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_schedule_issues_one_finalized_invoice_per_period_until_it_ends(pool: PgPool) {
    let app = app(pool).await;
    let (_, key) = app.merchant().await;
    // Whole seconds: Postgres keeps microseconds, and the test compares instants.
    let start = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut template = invoice_body("USDC", "25", BASE);
    template.as_object_mut().unwrap().remove("due_at");
    let schedule = |extra: serde_json::Value| {
        let mut b = json!({ "template": template.clone(), "days_until_due": 14, "every": "week",
                            "starts_at": start.to_rfc3339(), "count_max": 3 });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (i, (bad, code)) in [
        (json!({ "every": "days" }), "invalid_schedule"),
        (json!({ "count_max": null }), "invalid_schedule"),
        (json!({ "days_until_due": 0 }), "invalid_schedule"),
        (
            json!({ "template": { "currency": "ZZZ", "buyer": template["buyer"].clone(), "line_items": [] } }),
            "unknown_currency",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        app.send(
            Method::POST,
            "/v1/invoice-schedules",
            &key,
            Some(&format!("bad-{i}")),
            Some(schedule(bad)),
        )
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let created = app
        .send(
            Method::POST,
            "/v1/invoice-schedules",
            &key,
            Some("s1"),
            Some(schedule(json!({}))),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let other = app
        .send(
            Method::POST,
            "/v1/invoice-schedules",
            &key,
            Some("s2"),
            Some(schedule(json!({ "every": "days", "every_days": 3 }))),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap();
    let canceled = app
        .send(
            Method::POST,
            &format!("/v1/invoice-schedules/{other_id}/cancel"),
            &key,
            None,
            None,
        )
        .await;
    assert_eq!(canceled.body["status"], "canceled", "{}", canceled.body);

    let secret = app.state.config().invoices.secret.expose().clone();
    let issue = |at: chrono::DateTime<chrono::Utc>| {
        let (pool, registry, secret) = (app.pool.clone(), app.state.registry().clone(), secret.clone());
        async move {
            corridor_invoicing::schedules::issue_due(&pool, &registry, &secret, at, 100)
                .await
                .unwrap()
        }
    };
    assert_eq!(issue(start).await, 1, "the first period");
    assert_eq!(issue(start).await, 0, "a period is issued once");
    assert_eq!(issue(start + chrono::Duration::days(7)).await, 1);
    assert_eq!(issue(start + chrono::Duration::days(30)).await, 1);
    assert_eq!(
        issue(start + chrono::Duration::days(60)).await,
        0,
        "ended after count_max"
    );
    let s = app
        .send(Method::GET, &format!("/v1/invoice-schedules/{id}"), &key, None, None)
        .await;
    assert_eq!(
        (s.body["status"].as_str(), s.body["issued_count"].as_i64()),
        (Some("ended"), Some(3))
    );

    let list = app
        .send(Method::GET, "/v1/invoices?status=open", &key, None, None)
        .await;
    let numbers: Vec<i64> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    let second_due = chrono::DateTime::parse_from_rfc3339(list.body["data"][1]["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(second_due, start + chrono::Duration::days(7 + 14));
    assert!(list.body["data"][0]["payment_reference"].is_string());
    app.send(
        Method::GET,
        &format!("/v1/invoice-schedules/{id}"),
        &app.merchant().await.1,
        None,
        None,
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
}
