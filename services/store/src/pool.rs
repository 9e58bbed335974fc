use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::{str::FromStr, time::Duration};

/// Explicit pool limits: a pool that grows without bound turns a traffic spike into a database
/// outage, and a query without a timeout holds a connection forever.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub url: String,
    pub connections_max: u32,
    pub connections_min: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    pub idle_timeout: Duration,
}

impl PoolConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            connections_max: 20,
            connections_min: 0,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

pub async fn connect(config: &PoolConfig) -> Result<PgPool, sqlx::Error> {
    let statement_timeout_ms = config.statement_timeout.as_millis().to_string();
    let options = PgConnectOptions::from_str(&config.url)?
        .application_name("corridor")
        .options([("statement_timeout", statement_timeout_ms.as_str())]);
    PgPoolOptions::new()
        .max_connections(config.connections_max)
        .min_connections(config.connections_min)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(Some(config.idle_timeout))
        // No ping before every checkout (one more round trip per query): a broken connection
        // fails its first query and is dropped from the pool, and every caller handles errors.
        .test_before_acquire(false)
        .connect_with(options)
        .await
}
