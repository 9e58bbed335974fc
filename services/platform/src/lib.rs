//! The HTTP platform every Corridor service stands on: configuration, errors as
//! problem+json, request extractors, authentication (API keys for merchants, JWT for console
//! users), idempotency keys, pagination, health, metrics and the OpenAPI document.

pub mod auth;
pub mod config;
pub mod csv;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod secret;
pub mod service;
pub mod state;
pub mod telemetry;

pub use config::{Config, ConfigError, Profile};
pub use error::ApiError;
pub use extract::{ApiJson, ApiQuery};
pub use secret::Secret;
pub use state::AppState;
