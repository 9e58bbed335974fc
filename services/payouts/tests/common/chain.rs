//! The shared anvil harness (`corridor_test_support::chain`), plus the payouts settler over it.

use corridor_domain::AssetRegistry;
use corridor_payouts::settlement::{SettlementConfig, Settler};
pub use corridor_test_support::chain::*;
use sqlx::PgPool;
use std::sync::Arc;

/// The payouts settler for this chain: the compliance key attests, the submitter sends.
pub trait Settle {
    fn settler(&self, pool: &PgPool, registry: AssetRegistry) -> Settler;
}

impl Settle for Chain {
    fn settler(&self, pool: &PgPool, registry: AssetRegistry) -> Settler {
        let attester = Arc::new(corridor_chain::signer::LocalKeySigner::new(
            self.keys.compliance.clone(),
        ));
        let config = SettlementConfig::new(
            LOCAL,
            self.deployment.payout_router,
            self.keys.submitter.address(),
            attester,
        );
        Settler::new(pool.clone(), registry, config)
    }
}
