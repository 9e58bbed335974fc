//! The payouts test app: the real router over a real Postgres database per test.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use axum::{
    Router,
    http::{Method, StatusCode},
};
use corridor_domain::{AssetRegistry, ids::MerchantId};
use corridor_platform::{AppState, http};
pub use corridor_test_support::Res;
use corridor_test_support::{Http, balance};
use serde_json::{Value, json};
use sqlx::PgPool;

pub mod chain;
pub use chain::Settle;

pub struct App {
    pub router: Router,
    pub state: AppState,
    pub pool: PgPool,
}

// Base (chain 8453) has USDC and EURC in the built-in registry.
pub const CHAIN: u64 = 8453;
pub const ADDRESS: &str = "0x52908400098527886E0F7030069857D2E4169EE7"; // EIP-55 test vector

impl App {
    pub async fn new(pool: PgPool, pairs: &[(&str, &str)]) -> Self {
        Self::with_registry(pool, pairs, AssetRegistry::builtin()).await
    }

    pub async fn with_registry(pool: PgPool, pairs: &[(&str, &str)], registry: AssetRegistry) -> Self {
        let state = corridor_test_support::state(&pool, pairs, registry);
        let (router, _) = http::app(state.clone(), vec![corridor_payouts::routes(state.clone())]);
        App { router, state, pool }
    }

    /// A merchant with a key and `funds` USDC available.
    pub async fn merchant(&self, funds: &str) -> (MerchantId, String) {
        corridor_test_support::merchant(&self.state, funds).await
    }

    fn http(&self) -> Http {
        Http {
            router: self.router.clone(),
        }
    }

    pub async fn send(&self, method: Method, path: &str, key: &str, idem: Option<&str>, body: Option<Value>) -> Res {
        self.http().send(method, path, key, idem, body).await
    }

    /// A GET whose answer is not JSON: (status, content type, body).
    pub async fn get_text(&self, path: &str, key: &str) -> (StatusCode, String, String) {
        self.http().get_text(path, key).await
    }

    pub async fn beneficiary(&self, key: &str) -> String {
        let res = self
            .send(
                Method::POST,
                "/v1/beneficiaries",
                key,
                None,
                Some(beneficiary_body(ADDRESS)),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn pay(&self, key: &str, idem: &str, body: Value) -> Res {
        self.send(Method::POST, "/v1/payouts", key, Some(idem), Some(body))
            .await
    }

    /// (available, reserved) USDC.
    pub async fn balances(&self, merchant: MerchantId) -> (String, String) {
        (
            balance(&self.pool, merchant, "USDC", "available").await,
            balance(&self.pool, merchant, "USDC", "reserved").await,
        )
    }

    /// A staff console user with `role` and a session token for them.
    pub async fn console_user(&self, role: corridor_platform::auth::Role) -> String {
        let id = corridor_domain::ids::ConsoleUserId::new();
        let mut conn = self.pool.acquire().await.unwrap();
        corridor_store::console_users::insert(
            &mut conn,
            id,
            &format!("{}@corridor.test", id),
            "not-a-login",
            role.as_str(),
            None,
        )
        .await
        .unwrap();
        self.state.jwt().issue(id, role, None, chrono::Utc::now()).unwrap().0
    }

    /// The whole screening step as the services run it: compliance screens against a small
    /// real-format sanctions list (LAZARUS GROUP with one ETH address), then payouts decides.
    pub async fn screen(&self) -> corridor_payouts::screening::ScreenReport {
        corridor_compliance::versions::import(
            &self.pool,
            "ofac_sdn",
            &[("sdn.csv", TEST_SDN.as_bytes())],
            None,
            "test",
        )
        .await
        .unwrap();
        let cache = corridor_compliance::api::ListCache::default();
        let max_age = self.state.config().compliance.sanctions_max_age;
        corridor_compliance::payout_screening::screen_pending(&self.pool, &cache, max_age, 2_000)
            .await
            .unwrap();
        let state = &self.state;
        corridor_payouts::screening::screen_pending(&self.pool, &state.config().payouts, state.registry(), 2_000)
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }
}

/// A listed entity and its address, in OFAC's sdn.csv format.
pub const TEST_SDN: &str = "27307,\"LAZARUS GROUP\",-0- ,\"DPRK3\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Digital Currency Address - ETH 0x098B716B8Aaf21512996dC57EB0615e2383E2f96; Secondary sanctions risk.\"\n";
pub const LISTED_ADDRESS: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";

pub fn beneficiary_body(address: &str) -> Value {
    json!({ "kind": "business", "name": "Lagos Textiles Ltd", "country": "NG", "chain_id": CHAIN, "address": address })
}

pub fn payout_body(reference: &str, amount: &str, beneficiary: &str) -> Value {
    json!({ "client_reference": reference, "amount": amount, "asset": "USDC", "chain_id": CHAIN,
            "beneficiary_id": beneficiary, "purpose": "Invoice 42" })
}
