//! Authentication: API keys for merchants' servers, JWT sessions for console users.

pub mod api_key;
pub mod jwt;
pub mod password;

pub use api_key::{MerchantAuth, Scope};
pub use jwt::{ConsoleAuth, Role};
