//! The compliance API over real Postgres: list versions (the shipped snapshot, imports, a
//! corrupt file that changes nothing) and screening with its evidence.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use corridor_platform::{AppState, Config, auth::Role, http};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

struct App {
    router: Router,
    state: AppState,
}

impl App {
    fn new(pool: PgPool) -> Self {
        let config = Config::from_lookup(|_| None).unwrap();
        let state = AppState::new(pool, config, corridor_domain::AssetRegistry::builtin());
        let (router, _) = http::app(state.clone(), vec![corridor_compliance::routes(state.clone())]);
        App { router, state }
    }

    async fn staff(&self, role: Role) -> String {
        let id = corridor_domain::ids::ConsoleUserId::new();
        let mut conn = self.state.pool().acquire().await.unwrap();
        corridor_store::console_users::insert(&mut conn, id, &format!("{id}@corridor.test"), "x", role.as_str(), None)
            .await
            .unwrap();
        self.state.jwt().issue(id, role, None, chrono::Utc::now()).unwrap().0
    }

    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&raw).unwrap_or(Value::Null))
    }
}

const LAZARUS_ETH: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn the_shipped_snapshot_screens_addresses_in_any_case_and_names_with_evidence(pool: PgPool) {
    let app = App::new(pool.clone());
    let officer = app.staff(Role::ComplianceOfficer).await;

    // Before any list: screening says so instead of answering "no hits".
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/compliance/screen",
            &officer,
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("lists_unavailable"))
    );

    let done = corridor_compliance::versions::import_default_if_empty(&pool)
        .await
        .unwrap();
    assert_eq!(done.len(), 2);
    assert!(
        corridor_compliance::versions::import_default_if_empty(&pool)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, versions) = app.send(Method::GET, "/v1/compliance/lists", &officer, None).await;
    let sdn = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["source"] == "ofac_sdn")
        .unwrap()
        .clone();
    assert_eq!(
        (sdn["status"].as_str(), sdn["entries"].as_i64()),
        (Some("active"), Some(14_965))
    );
    assert_eq!(sdn["files"].as_array().unwrap().len(), 4);
    assert_eq!(sdn["content_hash"].as_str().unwrap().len(), 64);

    for form in [
        LAZARUS_ETH.to_owned(),
        LAZARUS_ETH.to_ascii_lowercase(),
        format!("0x{}", LAZARUS_ETH[2..].to_ascii_uppercase()),
    ] {
        let (status, body) = app
            .send(
                Method::POST,
                "/v1/compliance/screen",
                &officer,
                Some(json!({ "address": form })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["address_hits"][0]["name"], "LAZARUS GROUP", "{form}: {body}");
    }
    let (_, body) = app
        .send(
            Method::POST,
            "/v1/compliance/screen",
            &officer,
            Some(json!({ "name": "Aymen al-Zawahri" })),
        )
        .await;
    let hit = &body["name_hits"][0];
    assert_eq!(hit["name"], "AL ZAWAHIRI, Dr. Ayman", "{body}");
    assert!(hit["score"]["overall"].as_f64().unwrap() >= 0.9);
    assert!(hit["score"]["jaro_winkler"].is_number() && hit["score"]["token_set"].is_number());
    assert_eq!(body["threshold"], 0.9);
    assert_eq!(body["list_versions"].as_array().unwrap().len(), 2);
    let (_, body) = app
        .send(
            Method::POST,
            "/v1/compliance/screen",
            &officer,
            Some(json!({ "name": "Lagos Textiles Ltd" })),
        )
        .await;
    assert_eq!(body["name_hits"], json!([]));

    // Only compliance staff screen.
    let treasury = app.staff(Role::Treasury).await;
    let (status, _) = app
        .send(
            Method::POST,
            "/v1/compliance/screen",
            &treasury,
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (body, code) in [
        (json!({}), "screen_subject_required"),
        (json!({ "name": "x", "threshold": 0.2 }), "invalid_threshold"),
    ] {
        let (status, res) = app
            .send(Method::POST, "/v1/compliance/screen", &officer, Some(body))
            .await;
        assert_eq!(
            (status, res["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code))
        );
    }
    let (status, res) = app
        .send(
            Method::POST,
            "/v1/compliance/screen",
            &officer,
            Some(json!({ "name": "x", "nickname": "y" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused: {res}"
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_newer_list_replaces_the_active_one_and_a_corrupt_file_changes_nothing(pool: PgPool) {
    let app = App::new(pool.clone());
    let lead = app.staff(Role::ComplianceLead).await;
    let officer = app.staff(Role::ComplianceOfficer).await;
    let v1 = json!({ "files": { "sdn.csv": "1,\"OLD LISTED TRADING\",-0- ,\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n" } });
    let (status, first) = app
        .send(Method::POST, "/v1/compliance/lists/ofac_sdn", &lead, Some(v1.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = app
        .send(Method::POST, "/v1/compliance/lists/ofac_sdn", &lead, Some(v1))
        .await;
    assert_eq!(
        (status, &again["id"]),
        (StatusCode::OK, &first["id"]),
        "the same files change nothing"
    );
    let screen = |name: &'static str| {
        let (app, officer) = (&app, officer.clone());
        async move {
            app.send(
                Method::POST,
                "/v1/compliance/screen",
                &officer,
                Some(json!({ "name": name })),
            )
            .await
            .1["name_hits"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(screen("Old Listed Trading").await, 1);

    // A truncated file: refused with its line, and version 1 stays active.
    let corrupt = json!({ "files": { "sdn.csv": "2,\"NEW LISTED PERSON\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n3,\"TRUNC" } });
    let (status, err) = app
        .send(Method::POST, "/v1/compliance/lists/ofac_sdn", &lead, Some(corrupt))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("list_file_corrupt"))
    );
    assert!(err["detail"].as_str().unwrap().contains("sdn.csv line 2"), "{err}");
    let (_, versions) = app.send(Method::GET, "/v1/compliance/lists", &officer, None).await;
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(screen("New Listed Person").await, 0);

    let v2 = json!({ "files": { "sdn.csv": "2,\"NEW LISTED PERSON\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n" },
                     "published_on": "2026-11-20" });
    let (status, second) = app
        .send(Method::POST, "/v1/compliance/lists/ofac_sdn", &lead, Some(v2))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["published_on"], "2026-11-20");
    let (_, versions) = app.send(Method::GET, "/v1/compliance/lists", &officer, None).await;
    let statuses: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["active", "superseded"]);
    // The screening index follows the active version.
    assert_eq!(screen("New Listed Person").await, 1);
    assert_eq!(screen("Old Listed Trading").await, 0);

    for (path, body, code) in [
        (
            "/v1/compliance/lists/un_xml",
            json!({ "files": { "x.xml": "" } }),
            "unknown_list_source",
        ),
        (
            "/v1/compliance/lists/ofac_sdn",
            json!({ "files": { "alt.csv": "" } }),
            "list_files_invalid",
        ),
        (
            "/v1/compliance/lists/ofac_sdn",
            json!({ "files": { "evil.csv": "" } }),
            "list_files_invalid",
        ),
    ] {
        let (status, res) = app.send(Method::POST, path, &lead, Some(body)).await;
        assert_eq!(
            (status, res["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{res}"
        );
    }
    // Version 1's files again: superseded, so nothing is confirmed and the log says that.
    let v1_again = json!({ "files": { "sdn.csv": "1,\"OLD LISTED TRADING\",-0- ,\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n" } });
    let (status, old) = app
        .send(Method::POST, "/v1/compliance/lists/ofac_sdn", &lead, Some(v1_again))
        .await;
    assert_eq!((status, old["status"].as_str()), (StatusCode::OK, Some("superseded")));
    assert_eq!(screen("New Listed Person").await, 1, "the newer version stays active");

    // Every import is in the audit log, chained.
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM platform.audit_log ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        actions,
        [
            "sanctions_list.imported",
            "sanctions_list.confirmed",
            "sanctions_list.imported",
            "sanctions_list.superseded_reimported"
        ]
    );
    let report = corridor_store::audit::verify(&mut pool.acquire().await.unwrap())
        .await
        .unwrap();
    assert_eq!((report.rows, report.broken_at), (4, None));

    // Officers screen; only a lead imports.
    let (status, _) = app
        .send(
            Method::POST,
            "/v1/compliance/lists/ofac_sdn",
            &officer,
            Some(json!({ "files": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
