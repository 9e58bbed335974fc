//! docs/api/openapi.json is the document the running binary serves. Regenerate it with
//! `CORRIDOR_UPDATE_OPENAPI=1 cargo test -p corridor --test openapi`.

use corridor_domain::AssetRegistry;
use corridor_platform::{AppState, Config};

#[tokio::test]
async fn the_committed_openapi_document_is_current() {
    let config = Config::from_lookup(|_| None).unwrap();
    // No query runs: a lazy pool never connects.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://unused@127.0.0.1:1/none")
        .unwrap();
    let state = AppState::new(pool, config, AssetRegistry::builtin());
    let (_, openapi) = corridor::server::build_app(&state, &corridor::server::all_services(None));
    let generated = openapi.to_pretty_json().unwrap() + "\n";
    assert!(generated.contains("\"openapi\": \"3.1.0\""), "OpenAPI 3.1");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api/openapi.json");
    if std::env::var_os("CORRIDOR_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/api/openapi.json is stale: rerun with CORRIDOR_UPDATE_OPENAPI=1"
    );
}
