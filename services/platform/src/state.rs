use crate::{auth::jwt::JwtKeys, config::Config, health::ReadinessCheck};
use corridor_domain::{AssetRegistry, Clock, SystemClock};
use sqlx::PgPool;
use std::sync::Arc;

/// What every handler may need. Cheap to clone; services that need more keep their own state
/// and implement `FromRef<TheirState> for AppState`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    config: Config,
    registry: AssetRegistry,
    jwt: JwtKeys,
    clock: Arc<dyn Clock>,
    readiness: Vec<Arc<dyn ReadinessCheck>>,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config, registry: AssetRegistry) -> Self {
        Self::builder(pool, config, registry).build()
    }

    pub fn builder(pool: PgPool, config: Config, registry: AssetRegistry) -> AppStateBuilder {
        AppStateBuilder {
            pool,
            config,
            registry,
            clock: Arc::new(SystemClock),
            readiness: Vec::new(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn registry(&self) -> &AssetRegistry {
        &self.inner.registry
    }

    pub fn jwt(&self) -> &JwtKeys {
        &self.inner.jwt
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub fn readiness_checks(&self) -> &[Arc<dyn ReadinessCheck>] {
        &self.inner.readiness
    }
}

pub struct AppStateBuilder {
    pool: PgPool,
    config: Config,
    registry: AssetRegistry,
    clock: Arc<dyn Clock>,
    readiness: Vec<Arc<dyn ReadinessCheck>>,
}

impl AppStateBuilder {
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn readiness_check(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.readiness.push(check);
        self
    }

    pub fn build(self) -> AppState {
        let jwt = JwtKeys::new(&self.config.jwt);
        AppState {
            inner: Arc::new(Inner {
                pool: self.pool,
                config: self.config,
                registry: self.registry,
                jwt,
                clock: self.clock,
                readiness: self.readiness,
            }),
        }
    }
}
