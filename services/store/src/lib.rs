//! Postgres storage for the shared tables: the ledger, tenants and credentials, idempotency keys
//! and the outbox. Functions take `&mut PgConnection`, so the use case owns the transaction.

pub mod api_keys;
pub mod audit;
pub mod console_users;
pub mod error;
pub mod idempotency;
pub mod ledger;
pub mod merchants;
pub mod outbox;
pub mod pool;

pub use error::StoreError;
pub use pool::{PoolConfig, connect};

/// Every migration under the repository's `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
