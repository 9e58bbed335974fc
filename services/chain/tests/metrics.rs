//! The chain layer's metrics move with what happens: a recorder installed for this test binary
//! (nextest runs each test in its own process, so the global recorder is this test's alone).

mod common;

use common::{chain, enqueue, recipient, statuses};
use corridor_chain::watcher;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use sqlx::PgPool;
use std::collections::HashMap;

/// What the recorder saw up to now. A snapshot drains the recorder (counters and gauges swap
/// to zero, histograms empty), so counters and histograms are accumulated here and gauges keep
/// the last value set before each checkpoint.
#[derive(Default)]
struct Seen {
    counters: HashMap<String, u64>,
    gauges: HashMap<String, f64>,
    samples: HashMap<String, usize>,
}

impl Seen {
    fn checkpoint(&mut self, snapshotter: &Snapshotter) -> &Self {
        self.gauges.clear();
        for (key, .., value) in snapshotter.snapshot().into_vec() {
            let name = key.key().name().to_owned();
            match value {
                DebugValue::Counter(n) => *self.counters.entry(name).or_default() += n,
                DebugValue::Gauge(g) => {
                    self.gauges.insert(name, g.into_inner());
                }
                DebugValue::Histogram(h) => *self.samples.entry(name).or_default() += h.len(),
            }
        }
        self
    }

    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    fn gauge(&self, name: &str) -> f64 {
        *self
            .gauges
            .get(name)
            .unwrap_or_else(|| panic!("gauge {name} was not set"))
    }

    fn samples(&self, name: &str) -> usize {
        self.samples.get(name).copied().unwrap_or(0)
    }
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn queue_depth_nonce_lag_rebroadcasts_inclusion_and_finality_are_recorded(pool: PgPool) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder in this process");

    let chain = chain().await;
    let mut conn = pool.acquire().await.unwrap();
    let s = chain.submitter(&pool, |_| {}).await;
    watcher::watch_address(&mut conn, 31337, chain.keys.submitter.address(), "test_sender")
        .await
        .unwrap();
    drop(conn);
    let w = chain.watcher(&pool, 1);
    w.tick().await.unwrap();

    let mut seen = Seen::default();
    let first = enqueue(&pool, &chain, s.sender(), recipient(1), 1).await;
    enqueue(&pool, &chain, s.sender(), recipient(2), 2).await;
    s.tick().await.unwrap();
    let now = seen.checkpoint(&snapshotter);
    assert_eq!(now.counter("chain_transactions_signed_total"), 2);
    assert_eq!(now.gauge("chain_nonce_lag"), 2.0, "two nonces assigned, none mined");
    assert_eq!(now.gauge("chain_queue_depth"), 0.0, "both signed");

    chain.drop_sent(&pool, first).await;
    s.tick().await.unwrap();
    assert!(seen.checkpoint(&snapshotter).counter("chain_rebroadcasts_total") >= 1);

    chain.mine().await;
    s.tick().await.unwrap();
    assert_eq!(statuses(&pool).await, [("mined".to_owned(), 2)]);
    let now = seen.checkpoint(&snapshotter);
    assert_eq!(now.samples("chain_intent_to_inclusion_seconds"), 2);
    assert_eq!(now.gauge("chain_nonce_lag"), 0.0);
    assert_eq!(now.counter("chain_fee_bumps_total"), 0, "nothing was stuck");
    assert_eq!(now.samples("chain_intent_to_finality_seconds"), 0);

    w.tick().await.unwrap();
    assert_eq!(
        seen.checkpoint(&snapshotter)
            .samples("chain_intent_to_finality_seconds"),
        2
    );
}
