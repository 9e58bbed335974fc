//! Routes the platform serves itself: console sessions, API keys, balances, sandbox credits.

mod api_keys;
mod balances;
mod sandbox;
mod sessions;

use crate::state::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(sessions::create_session))
        .routes(routes!(sessions::me))
        .routes(routes!(api_keys::list_api_keys, api_keys::create_api_key))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(
            api_keys::put_mandate,
            api_keys::get_mandate,
            api_keys::delete_mandate
        ))
        .routes(routes!(balances::get_balances))
        .routes(routes!(sandbox::create_sandbox_credit))
        .with_state(state)
}

pub use api_keys::{ApiKeyCreated, ApiKeyView, Mandate, create as api_keys_create};
pub use balances::{AssetBalance, Balances};
pub use sandbox::{SandboxCredit, credit as sandbox_credit};
pub use sessions::{Session, login};
