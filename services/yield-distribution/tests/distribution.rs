//! Yield distribution over real Postgres with a known ledger history. The expected allocation
//! is computed inside the test by a deliberately naive reference: the balance is summed second
//! by second, and leftover units are handed out by sorting exact fractions. The history has a
//! merchant joining mid-period, a zero balance for part of the period, equal balances (the
//! tie-break), a late enrolment, an excluded jurisdiction, a balance under the minimum and a
//! merchant who never enrolled.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use corridor_domain::{AssetRegistry, FixedClock, ids::MerchantId};
use corridor_ledger::{AccountKey, Purpose};
use corridor_platform::{AppState, Config, auth::Role, auth::Scope, http, routes};
use http_body_util::BodyExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::{collections::BTreeMap, sync::Arc};
use tower::ServiceExt;
use uuid::Uuid;

const DAY: i64 = 86_400;
const SCALE: u32 = 6;

struct App {
    router: Router,
    state: AppState,
    clock: FixedClock,
    pool: PgPool,
}

struct Res {
    status: StatusCode,
    body: Value,
    text: String,
}

impl Res {
    #[track_caller]
    fn problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
    }
}

impl App {
    fn new(pool: PgPool, now: DateTime<Utc>) -> Self {
        let config = Config::from_lookup(|_| None).unwrap();
        let clock = FixedClock::new(now);
        let state = AppState::builder(pool.clone(), config, AssetRegistry::builtin())
            .clock(Arc::new(clock.clone()))
            .build();
        let (router, _) = http::app(state.clone(), vec![corridor_yield_distribution::routes(state.clone())]);
        App {
            router,
            state,
            clock,
            pool,
        }
    }

    fn set_now(&self, at: DateTime<Utc>) {
        let now = self.clock_now();
        self.clock.advance(at - now);
    }

    fn clock_now(&self) -> DateTime<Utc> {
        use corridor_domain::Clock;
        self.clock.now()
    }

    async fn staff(&self, role: Role) -> String {
        corridor_test_support::staff(&self.state, role).await
    }

    /// A merchant with an all-scopes key and no money.
    async fn merchant(&self) -> (MerchantId, String) {
        let id = MerchantId::new();
        let mut conn = self.pool.acquire().await.unwrap();
        corridor_store::merchants::insert(&mut conn, id, "Merchant")
            .await
            .unwrap();
        drop(conn);
        let key = routes::api_keys_create(&self.state, id, "t", &Scope::ALL)
            .await
            .unwrap()
            .secret;
        (id, key)
    }

    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Res {
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
        self.call(req).await
    }

    async fn send_csv(&self, path: &str, token: &str, csv: &str) -> Res {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "text/csv")
            .body(Body::from(csv.to_owned()))
            .unwrap();
        self.call(req).await
    }

    async fn call(&self, req: Request<Body>) -> Res {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let raw = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&raw).into_owned();
        Res {
            status,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            text,
        }
    }

    /// Moves `units` (signed, USDC base units) into a merchant's available balance from the
    /// sandbox funding account, recorded in the ledger at `at` (the real tables and triggers,
    /// with the time set, so a history can be laid down in the past).
    async fn post_at(&self, merchant: MerchantId, units: i64, at: DateTime<Utc>) {
        let mut tx = self.pool.begin().await.unwrap();
        let reg = self.state.registry();
        let usdc = corridor_domain::AssetCode::parse("USDC").unwrap();
        let m = corridor_store::ledger::ensure_account(
            &mut tx,
            &AccountKey::merchant(merchant, usdc.clone(), Purpose::Available),
            reg,
        )
        .await
        .unwrap();
        let f =
            corridor_store::ledger::ensure_account(&mut tx, &AccountKey::platform(usdc, Purpose::SandboxFunding), reg)
                .await
                .unwrap();
        let entry = Uuid::now_v7();
        sqlx::query("INSERT INTO ledger.entries (id, kind, memo, created_at) VALUES ($1, 'test_history', '', $2)")
            .bind(entry)
            .bind(at)
            .execute(&mut *tx)
            .await
            .unwrap();
        let amount = Decimal::new(units, SCALE);
        for (account, a) in [(f.as_uuid(), -amount), (m.as_uuid(), amount)] {
            sqlx::query(
                "INSERT INTO ledger.postings (entry_id, account_id, asset, amount, created_at) VALUES ($1, $2, 'USDC', $3, $4)",
            )
            .bind(entry)
            .bind(account)
            .bind(a)
            .bind(at)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }

    async fn available(&self, merchant: MerchantId) -> Decimal {
        self.balance("merchant", Some(merchant.as_uuid()), "available").await
    }

    async fn balance(&self, kind: &str, owner: Option<Uuid>, purpose: &str) -> Decimal {
        sqlx::query_scalar(
            "SELECT COALESCE(sum(balance), 0) FROM ledger.accounts
              WHERE owner_kind = $1 AND owner_id IS NOT DISTINCT FROM $2 AND asset = 'USDC' AND purpose = $3",
        )
        .bind(kind)
        .bind(owner)
        .bind(purpose)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }
}

/// One merchant's history for the reference: balance changes (time, signed base units) and
/// the moment it enrolled.
struct Known {
    changes: Vec<(DateTime<Utc>, i64)>,
    enrolled_at: Option<DateTime<Utc>>,
}

/// Balance-seconds the naive way: walk every second of the period, apply every change whose
/// second has come, and add the balance if the merchant was enrolled by that second's start.
fn reference_balance_seconds(k: &Known, start: DateTime<Utc>, end: DateTime<Utc>) -> u128 {
    let Some(enrolled) = k.enrolled_at else { return 0 };
    let mut changes = k.changes.clone();
    changes.sort();
    let mut balance: i64 = 0;
    let mut next = 0;
    let mut total: u128 = 0;
    let mut second = start.timestamp();
    while second < end.timestamp() {
        while next < changes.len() && changes[next].0.timestamp() <= second {
            balance += changes[next].1;
            next += 1;
        }
        let second_start = Utc.timestamp_opt(second, 0).unwrap();
        if second_start >= enrolled && balance > 0 {
            total += balance as u128;
        }
        second += 1;
    }
    total
}

/// Hands `total` out in proportion to weights: everyone gets the floor of the exact share, then
/// the remaining units go one by one down the list sorted by exact fractional part (compared as
/// fractions), larger weight, then smaller id.
fn reference_split(total: u128, weights: &BTreeMap<MerchantId, u128>) -> BTreeMap<MerchantId, u128> {
    let w_total: u128 = weights.values().sum();
    let mut out = BTreeMap::new();
    let mut fractions = Vec::new();
    for (id, w) in weights {
        out.insert(*id, total * w / w_total);
        fractions.push((*id, *w, total * w % w_total));
    }
    let left = total - out.values().sum::<u128>();
    fractions.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    for (id, _, _) in fractions.into_iter().take(left as usize) {
        *out.get_mut(&id).unwrap() += 1;
    }
    out
}

fn units(s: &str) -> u128 {
    let d: Decimal = s.parse().unwrap();
    let mut d = d;
    d.rescale(SCALE);
    d.mantissa() as u128
}

fn usdc(units: u128) -> Decimal {
    Decimal::from_i128_with_scale(units as i128, SCALE)
}

fn period_start() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::days(1)).unwrap() - Duration::days(90)
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_period_is_shared_by_time_weighted_balance_exactly_as_the_reference_computes(pool: PgPool) {
    let p0 = period_start();
    let p1 = p0 + Duration::days(30);
    let app = App::new(pool.clone(), p0 - Duration::days(10));
    let treasury = app.staff(Role::Treasury).await;

    // Arrange: merchants, enrolments (at the clock's time) and a history in the ledger.
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let mut m = BTreeMap::new();
    for n in names {
        m.insert(n, app.merchant().await);
    }
    for n in ["a", "b", "c", "d", "f", "h"] {
        let r = app
            .send(
                Method::PUT,
                "/v1/yield/enrollment",
                &m[n].1,
                Some(json!({ "enrolled": true })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["enrolled"], true);
    }
    // With excluded jurisdictions, a merchant is eligible only where its jurisdiction is known
    // and not excluded: f is in Iran, and h's is unknown (it is also under the minimum).
    for (n, j) in [
        ("a", "DE"),
        ("b", "SG"),
        ("c", "KE"),
        ("d", "KE"),
        ("e", "BR"),
        ("f", "IR"),
        ("g", "MX"),
    ] {
        let r = app
            .send(
                Method::PUT,
                &format!("/v1/treasury/yield/merchants/{}", m[n].0),
                &treasury,
                Some(json!({ "jurisdiction": j })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // g enrols half a second into day 5 of the period: it counts from the next whole second.
    let g_enrolled = p0 + Duration::days(5) + Duration::milliseconds(500);
    app.set_now(g_enrolled);
    app.send(
        Method::PUT,
        "/v1/yield/enrollment",
        &m["g"].1,
        Some(json!({ "enrolled": true })),
    )
    .await;

    let s = |d: i64, secs: i64| p0 + Duration::seconds(d * DAY + secs);
    let history: Vec<(&str, DateTime<Utc>, i64)> = vec![
        // a: 1,000 before the period, +500 on day 10 (at .4 s), all of it paid away on day 20
        // (zero for five days), then 200.5 back on day 25.
        ("a", s(-5, 0), 1_000_000_000),
        ("a", s(10, 0) + Duration::milliseconds(400), 500_000_000),
        ("a", s(20, 0), -1_500_000_000),
        ("a", s(25, 0), 200_500_000),
        // b joins mid-period.
        ("b", s(15, 3 * 3600 + 7 * 60 + 11), 2_000_000_000),
        // c and d hold equal balances all period: their remainders tie.
        ("c", s(-1, 0), 333_333_333),
        ("d", s(-1, 0), 333_333_333),
        // e never enrolled, f is in an excluded jurisdiction, h is below the minimum.
        ("e", s(-1, 0), 5_000_000_000),
        ("f", s(-1, 0), 5_000_000_000),
        ("g", s(-1, 0), 800_000_000),
        ("h", s(-1, 0), 500_000),
        // After the period: must not count.
        ("c", s(30, 10), 9_000_000_000),
    ];
    for (n, at, u) in &history {
        app.post_at(m[n].0, *u, *at).await;
    }

    app.set_now(p1 + Duration::hours(1));
    for (source, reference, amount, end) in [
        ("paxos", "px-2026-10", "1000.000001", p1),
        ("bridge", "br-2026-10a", "234.56789", p0 + Duration::days(15)),
    ] {
        let r = app
            .send(
                Method::POST,
                "/v1/treasury/yield/rewards",
                &treasury,
                Some(
                    json!({ "asset": "USDC", "amount": amount, "period_start": p0, "period_end": end,
                             "source": source, "reference": reference }),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let request = json!({
        "asset": "USDC", "period_start": p0, "period_end": p1, "take_rate_bps": 1000,
        "partner": { "name": "Acme Partners", "share_bps": 500 },
        "min_balance": "1", "excluded_jurisdictions": ["IR", "KP"]
    });

    // The reference, computed from the history above.
    let mut known: BTreeMap<MerchantId, Known> = BTreeMap::new();
    let enrolled = |n: &str| match n {
        "e" => None,
        "g" => Some(g_enrolled),
        _ => Some(p0 - Duration::days(10)),
    };
    for (n, at, u) in &history {
        known
            .entry(m[n].0)
            .or_insert_with(|| Known {
                changes: vec![],
                enrolled_at: enrolled(n),
            })
            .changes
            .push((*at, *u));
    }
    let min_weight = 1_000_000u128 * 30 * DAY as u128;
    let weights: BTreeMap<MerchantId, u128> = known
        .iter()
        .filter(|(id, _)| **id != m["f"].0)
        .map(|(id, k)| (*id, reference_balance_seconds(k, p0, p1)))
        .filter(|(_, w)| *w > 0 && *w >= min_weight)
        .collect();
    assert_eq!(weights.len(), 5, "a, b, c, d and g are eligible");
    let gross: u128 = 1_234_567_891;
    let platform = gross / 10;
    let partner = (gross - platform) * 500 / 10_000;
    let merchants = gross - platform - partner;
    let expected_net = reference_split(merchants, &weights);
    let expected_fees = reference_split(platform + partner, &weights);
    // The tie: c and d weigh the same, so exactly one of them may have the extra unit, and
    // only the smaller id.
    let (c, d) = (m["c"].0, m["d"].0);
    if expected_net[&c] != expected_net[&d] {
        let (lo, hi) = if c < d { (c, d) } else { (d, c) };
        assert_eq!(expected_net[&lo], expected_net[&hi] + 1);
    }

    // A dry run pays nothing and reports what the run will.
    let dry = app
        .send(
            Method::POST,
            "/v1/treasury/yield/distributions",
            &treasury,
            Some({
                let mut r = request.clone();
                r["dry_run"] = json!(true);
                r
            }),
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
    assert_eq!(app.count("SELECT count(*) FROM yield.distributions").await, 0);
    let before: BTreeMap<MerchantId, Decimal> = {
        let mut b = BTreeMap::new();
        for (id, _) in m.values() {
            b.insert(*id, app.available(*id).await);
        }
        b
    };

    // Act.
    let res = app
        .send(
            Method::POST,
            "/v1/treasury/yield/distributions",
            &treasury,
            Some(request.clone()),
        )
        .await;

    // Assert: the split, the ledger and the events.
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let d = &res.body;
    assert_eq!(
        d["report_hash"], dry.body["report_hash"],
        "the dry run reported this very run"
    );
    assert_eq!(d["gross_yield"], "1234.567891");
    assert_eq!(d["distributable"], "1234.567891");
    assert_eq!(d["platform"].as_str().map(units), Some(platform));
    assert_eq!(d["partner"].as_str().map(units), Some(partner));
    assert_eq!(d["merchants"].as_str().map(units), Some(merchants));
    assert_eq!(d["eligible_merchants"], 5);
    assert_eq!(
        d["sources"],
        json!([{ "source": "bridge", "amount": "234.567890", "rewards": 1 },
               { "source": "paxos", "amount": "1000.000001", "rewards": 1 }])
    );
    let id = d["id"].as_str().unwrap().to_owned();
    let page = app
        .send(
            Method::GET,
            &format!("/v1/treasury/yield/distributions/{id}/allocations?limit=100"),
            &treasury,
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let rows = page.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        let mid: MerchantId = row["merchant_id"].as_str().unwrap().parse().unwrap();
        assert_eq!(units(row["net"].as_str().unwrap()), expected_net[&mid], "net of {mid}");
        assert_eq!(
            units(row["fees"].as_str().unwrap()),
            expected_fees[&mid],
            "fees of {mid}"
        );
        assert_eq!(
            row["balance_seconds"].as_str().unwrap().parse::<u128>().unwrap(),
            weights[&mid]
        );
    }
    for (id, _) in m.values() {
        let credited = expected_net.get(id).copied().unwrap_or(0);
        assert_eq!(
            app.available(*id).await - before[id],
            usdc(credited),
            "available of {id}"
        );
    }
    assert_eq!(app.balance("platform", None, "platform_fees").await, usdc(platform));
    assert_eq!(app.balance("platform", None, "partner_payable").await, usdc(partner));
    assert_eq!(
        app.count("SELECT count(*) FROM platform.outbox WHERE event_type = 'yield.distributed'")
            .await,
        expected_net.values().filter(|n| **n > 0).count() as i64
    );
    let mut conn = pool.acquire().await.unwrap();
    assert!(corridor_store::ledger::check(&mut conn).await.unwrap().is_consistent());
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'yield_distribution'")
            .await,
        1
    );

    // The merchant's statement says the same, by API and CSV.
    let a = m["a"].0;
    let st = app.send(Method::GET, "/v1/yield/statements", &m["a"].1, None).await;
    assert_eq!(st.status, StatusCode::OK, "{}", st.text);
    let line = &st.body["data"][0];
    assert_eq!(units(line["net"].as_str().unwrap()), expected_net[&a]);
    assert_eq!(
        units(line["gross"].as_str().unwrap()),
        expected_net[&a] + expected_fees[&a]
    );
    let twab = Decimal::from_i128_with_scale(weights[&a] as i128, SCALE) / Decimal::from(30 * DAY);
    assert_eq!(
        line["twab"].as_str().unwrap(),
        twab.round_dp_with_strategy(SCALE, rust_decimal::RoundingStrategy::ToZero)
            .to_string()
    );
    let csv = app
        .call(
            Request::builder()
                .uri("/v1/yield/statements/export.csv")
                .header("authorization", format!("Bearer {}", m["a"].1))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.text
            .starts_with("distribution_id,asset,period_start,period_end,twab,rate,gross,fees,net,adjustments")
    );
    assert!(csv.text.contains(&id), "{}", csv.text);
    // e never enrolled: no statement.
    let st = app.send(Method::GET, "/v1/yield/statements", &m["e"].1, None).await;
    assert_eq!(st.body["data"], json!([]));
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_period_is_paid_once_and_corrected_only_by_adjusting_entries(pool: PgPool) {
    let p0 = period_start();
    let p1 = p0 + Duration::days(1);
    let app = App::new(pool.clone(), p0 - Duration::days(1));
    let treasury = app.staff(Role::Treasury).await;
    let (a, key) = app.merchant().await;
    app.send(
        Method::PUT,
        "/v1/yield/enrollment",
        &key,
        Some(json!({ "enrolled": true })),
    )
    .await;
    app.post_at(a, 100_000_000, p0 - Duration::hours(1)).await;
    app.set_now(p1 + Duration::minutes(5));
    let reward = json!({ "asset": "USDC", "amount": "10", "period_start": p0, "period_end": p1,
                         "source": "paxos", "reference": "px-1" });
    let r = app
        .send(
            Method::POST,
            "/v1/treasury/yield/rewards",
            &treasury,
            Some(reward.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // The same reward again is the same reward; different content under its reference is refused.
    let again = app
        .send(
            Method::POST,
            "/v1/treasury/yield/rewards",
            &treasury,
            Some(reward.clone()),
        )
        .await;
    assert_eq!((again.status, &again.body["id"]), (StatusCode::OK, &r.body["id"]));
    let mut changed = reward.clone();
    changed["amount"] = json!("11");
    app.send(Method::POST, "/v1/treasury/yield/rewards", &treasury, Some(changed))
        .await
        .problem(StatusCode::CONFLICT, "reward_reference_conflict");

    let body = json!({ "asset": "USDC", "period_start": p0, "period_end": p1, "take_rate_bps": 0 });
    let first = app
        .send(
            Method::POST,
            "/v1/treasury/yield/distributions",
            &treasury,
            Some(body.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(app.available(a).await, Decimal::new(110, 0));

    // Twice, concurrently and sequentially: still paid once.
    app.set_now(p1 + Duration::days(2));
    let runs = futures::future::join_all((0..4).map(|_| {
        app.send(
            Method::POST,
            "/v1/treasury/yield/distributions",
            &treasury,
            Some(body.clone()),
        )
    }))
    .await;
    for r in &runs {
        r.problem(StatusCode::CONFLICT, "period_already_distributed");
    }
    let overlapping = json!({ "asset": "USDC", "period_start": p0 + Duration::hours(12),
                              "period_end": p1 + Duration::hours(12), "take_rate_bps": 0 });
    app.send(
        Method::POST,
        "/v1/treasury/yield/distributions",
        &treasury,
        Some(overlapping),
    )
    .await
    .problem(StatusCode::CONFLICT, "period_overlaps");
    let earlier = json!({ "asset": "USDC", "period_start": p0 - Duration::days(2),
                          "period_end": p0 - Duration::days(1), "take_rate_bps": 0 });
    app.send(
        Method::POST,
        "/v1/treasury/yield/distributions",
        &treasury,
        Some(earlier),
    )
    .await
    .problem(StatusCode::CONFLICT, "period_out_of_order");
    // The next period may start where this one ended: with no new reward it pays nothing.
    let next = json!({ "asset": "USDC", "period_start": p1, "period_end": p1 + Duration::days(1), "take_rate_bps": 0 });
    let r = app
        .send(Method::POST, "/v1/treasury/yield/distributions", &treasury, Some(next))
        .await;
    assert_eq!(
        (r.status, &r.body["distributable"]),
        (StatusCode::CREATED, &json!("0.000000")),
        "{}",
        r.text
    );
    assert_eq!(app.available(a).await, Decimal::new(110, 0));
    assert_eq!(app.count("SELECT count(*) FROM yield.distributions").await, 2);

    // A correction is its own entry; the distribution row cannot be edited.
    let id = first.body["id"].as_str().unwrap();
    let adj = app
        .send(
            Method::POST,
            &format!("/v1/treasury/yield/distributions/{id}/adjustments"),
            &treasury,
            Some(json!({ "merchant_id": a, "direction": "debit", "amount": "0.5", "reason": "reward restated by issuer" })),
        )
        .await;
    assert_eq!(adj.status, StatusCode::CREATED, "{}", adj.text);
    assert_eq!(adj.body["amount"], "-0.500000");
    assert_eq!(
        app.count("SELECT count(*) FROM platform.outbox WHERE event_type = 'yield.adjusted'")
            .await,
        1
    );
    assert_eq!(app.available(a).await, Decimal::new(1095, 1));
    let st = app.send(Method::GET, "/v1/yield/statements", &key, None).await;
    // Newest first: the empty next period, then the paid one with its correction.
    assert_eq!(st.body["data"][0]["net"], "0.000000");
    assert_eq!(st.body["data"][1]["distribution_id"], id);
    assert_eq!(st.body["data"][1]["adjustments"], "-0.500000");
    assert_eq!(st.body["data"][1]["net"], "10.000000");
    assert_eq!(st.body["data"][1]["rate"], "0.1000000000");
    app.send(
        Method::POST,
        &format!("/v1/treasury/yield/distributions/{id}/adjustments"),
        &treasury,
        Some(json!({ "merchant_id": a, "direction": "debit", "amount": "1000", "reason": "too much" })),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    let edit = sqlx::query("UPDATE yield.distributions SET distributable = 0")
        .execute(&pool)
        .await;
    assert!(edit.is_err(), "distributions are append-only");
    let mut conn = pool.acquire().await.unwrap();
    assert!(corridor_store::ledger::check(&mut conn).await.unwrap().is_consistent());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn bad_input_is_refused_with_a_stable_code_and_nothing_is_distributed(pool: PgPool) {
    let p0 = period_start();
    let p1 = p0 + Duration::days(1);
    let app = App::new(pool.clone(), p1 + Duration::minutes(5));
    let treasury = app.staff(Role::Treasury).await;
    let (a, key) = app.merchant().await;
    app.post_at(a, 100_000_000, p0 - Duration::hours(1)).await;
    let dist = |body: Value| app.send(Method::POST, "/v1/treasury/yield/distributions", &treasury, Some(body));
    let base = json!({ "asset": "USDC", "period_start": p0, "period_end": p1, "take_rate_bps": 100 });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };

    dist(with("period_end", json!(p0 - Duration::hours(1))))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_period");
    dist(with("period_end", json!(p0)))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_period");
    dist(with(
        "period_end",
        json!(p1 + Duration::minutes(4) + Duration::seconds(30)),
    ))
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY, "period_open");
    dist(with("take_rate_bps", json!(10_001)))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rate");
    dist(with("partner", json!({ "name": "P", "share_bps": 20_000 })))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rate");
    dist(with("asset", json!("XYZ")))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_asset");
    dist(with("asset", json!("USD")))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "asset_not_yield_bearing");
    dist(with("excluded_jurisdictions", json!(["iran"])))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_jurisdiction");
    dist(with("status", json!("distributed")))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Merchants cannot run distributions; treasury cannot be skipped by a compliance officer.
    assert_eq!(
        app.send(
            Method::POST,
            "/v1/treasury/yield/distributions",
            &key,
            Some(base.clone())
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let officer = app.staff(Role::ComplianceOfficer).await;
    assert_eq!(
        app.send(
            Method::POST,
            "/v1/treasury/yield/distributions",
            &officer,
            Some(base.clone())
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    let reward = |k: &str, v: Value| {
        let mut b = json!({ "asset": "USDC", "amount": "1", "period_start": p0, "period_end": p1,
                            "source": "paxos", "reference": "r" });
        b[k] = v;
        app.send(Method::POST, "/v1/treasury/yield/rewards", &treasury, Some(b))
    };
    reward("asset", json!("DOGE"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_asset");
    reward("amount", json!("-1"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    reward("amount", json!("0.0000001"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    reward("period_end", json!(p0 - Duration::days(1)))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_period");
    reward("period_end", json!(Utc::now() + Duration::days(400)))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_period");

    // A CSV with one bad line imports nothing and names the line.
    let csv = format!(
        "asset,amount,period_start,period_end,source,reference\n\
         USDC,5,{s},{e},paxos,ok-1\n\
         EURC,5,{s},{e},paxos,ok-2\n\
         BTC,5,{s},{e},paxos,bad-3\n",
        s = p0.to_rfc3339(),
        e = p1.to_rfc3339()
    );
    let r = app.send_csv("/v1/treasury/yield/rewards/import", &treasury, &csv).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows");
    assert!(
        r.body["errors"][0]["detail"].as_str().unwrap().starts_with("line 4:"),
        "{}",
        r.text
    );
    let r = app
        .send_csv("/v1/treasury/yield/rewards/import", &treasury, "amount,asset\n1,USDC\n")
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv");
    assert_eq!(app.count("SELECT count(*) FROM yield.rewards").await, 0);
    // The good file imports once; the second time it changes nothing.
    let good = csv.lines().take(3).collect::<Vec<_>>().join("\n");
    let r = app
        .send_csv("/v1/treasury/yield/rewards/import", &treasury, &good)
        .await;
    assert_eq!(
        (r.status, &r.body["imported"]),
        (StatusCode::OK, &json!(2)),
        "{}",
        r.text
    );
    let r = app
        .send_csv("/v1/treasury/yield/rewards/import", &treasury, &good)
        .await;
    assert_eq!(
        (&r.body["imported"], &r.body["already_present"]),
        (&json!(0), &json!(2))
    );
    assert_eq!(app.count("SELECT count(*) FROM yield.distributions").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind LIKE 'yield%'")
            .await,
        0
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_vault_loss_distributes_nothing_and_is_made_good_before_later_yield_is_paid(pool: PgPool) {
    let p0 = period_start();
    let (p1, p2, p3) = (p0 + Duration::days(1), p0 + Duration::days(2), p0 + Duration::days(3));
    let app = App::new(pool.clone(), p0 - Duration::days(1));
    let treasury = app.staff(Role::Treasury).await;
    let (a, key_a) = app.merchant().await;
    let (b, key_b) = app.merchant().await;
    for key in [&key_a, &key_b] {
        app.send(
            Method::PUT,
            "/v1/yield/enrollment",
            key,
            Some(json!({ "enrolled": true })),
        )
        .await;
    }
    // Equal balances all along: the odd unit is the tie-break's.
    app.post_at(a, 500_000_000, p0 - Duration::hours(2)).await;
    app.post_at(b, 500_000_000, p0 - Duration::hours(2)).await;
    app.set_now(p3 + Duration::hours(1));
    // The vault: 1,000 deposited at p0; worth 995 at p1 (a loss of 5); 200 more deposited and
    // worth 1,197 at p2 (a gain of 2); worth 1,209.000001 at p3 (a gain of 12.000001).
    for (at, position, deposited) in [
        (p0, "1000", "1000"),
        (p1, "995", "1000"),
        (p2, "1197", "1200"),
        (p3, "1209.000001", "1200"),
    ] {
        let r = app
            .send(
                Method::POST,
                "/v1/treasury/yield/vault-marks",
                &treasury,
                Some(json!({ "asset": "USDC", "at": at, "position": position, "net_deposited": deposited })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    app.send(
        Method::POST,
        "/v1/treasury/yield/vault-marks",
        &treasury,
        Some(json!({ "asset": "USDC", "at": p3, "position": "1", "net_deposited": "-5" })),
    )
    .await
    .problem(StatusCode::CONFLICT, "vault_mark_conflict");
    let run = |start: DateTime<Utc>, end: DateTime<Utc>| {
        app.send(
            Method::POST,
            "/v1/treasury/yield/distributions",
            &treasury,
            Some(json!({ "asset": "USDC", "period_start": start, "period_end": end, "take_rate_bps": 0 })),
        )
    };
    // A period bound without a mark cannot be measured.
    run(p0, p0 + Duration::hours(12))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "vault_mark_missing");

    let first = run(p0, p1).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(
        (
            &first.body["gross_yield"],
            &first.body["distributable"],
            &first.body["carried_loss_out"]
        ),
        (&json!("-5.000000"), &json!("0.000000"), &json!("5.000000"))
    );
    assert!(first.body["entry_id"].is_null());
    let second = run(p1, p2).await;
    assert_eq!(
        (
            &second.body["gross_yield"],
            &second.body["carried_loss_in"],
            &second.body["carried_loss_out"]
        ),
        (&json!("2.000000"), &json!("5.000000"), &json!("3.000000"))
    );
    assert_eq!(app.available(a).await, Decimal::new(500, 0));
    let third = run(p2, p3).await;
    assert_eq!(
        (
            &third.body["gross_yield"],
            &third.body["distributable"],
            &third.body["carried_loss_out"]
        ),
        (&json!("12.000001"), &json!("9.000001"), &json!("0.000000"))
    );
    // 9.000001 over two equal balances: 4.5 each and one unit to the smaller merchant id.
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    assert_eq!(app.available(lo).await, Decimal::new(504_500_001, 6));
    assert_eq!(app.available(hi).await, Decimal::new(504_500_000, 6));
    assert_eq!(
        app.count("SELECT count(*) FROM ledger.entries WHERE kind = 'yield_distribution'")
            .await,
        1
    );
    let mut conn = pool.acquire().await.unwrap();
    assert!(corridor_store::ledger::check(&mut conn).await.unwrap().is_consistent());
}
