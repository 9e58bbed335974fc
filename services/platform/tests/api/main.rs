//! The platform's HTTP behaviour through the real router and a real Postgres database per test.

mod auth;
mod errors;
mod helpers;
mod idempotency;
