//! Pure domain types shared by every Corridor crate: money, assets, ids, addresses, time.
//! No IO lives here: parsing at the edge produces these types, and they cannot hold invalid values.

pub mod address;
pub mod asset;
pub mod clock;
pub mod ids;
pub mod money;

pub use address::{AddressError, EvmAddress};
pub use asset::{Asset, AssetCode, AssetError, AssetKind, AssetRegistry, ChainId, TokenDeployment};
pub use clock::{Clock, FixedClock, SystemClock};
pub use ids::IdError;
pub use money::{Money, MoneyError};
