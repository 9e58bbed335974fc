use crate::{
    auth::{MerchantAuth, Scope},
    error::ApiError,
    extract::ApiJson,
    state::AppState,
};
use axum::extract::State;
use corridor_ledger::Purpose;
use corridor_store::ledger;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetBalance {
    pub asset: String,
    /// Spendable now.
    pub available: String,
    /// Held for payouts in flight.
    pub reserved: String,
    /// Seen on chain, credited at finality.
    pub incoming: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Balances {
    pub data: Vec<AssetBalance>,
}

/// Available, reserved and incoming balance per asset.
#[utoipa::path(get, path = "/v1/balances", tag = "merchant", security(("api_key" = [])),
    responses((status = 200, body = Balances), (status = 401, body = crate::error::Problem)))]
pub async fn get_balances(State(state): State<AppState>, auth: MerchantAuth) -> Result<ApiJson<Balances>, ApiError> {
    auth.require(Scope::BalancesRead)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = ledger::merchant_balances(&mut conn, auth.merchant_id).await?;
    let mut by_asset: BTreeMap<String, AssetBalance> = BTreeMap::new();
    for row in rows {
        let asset = row.balance.asset().to_string();
        let zero = corridor_domain::Money::zero(state.registry().get(&asset).map_err(ApiError::internal)?)
            .amount()
            .to_string();
        let entry = by_asset.entry(asset.clone()).or_insert_with(|| AssetBalance {
            asset,
            available: zero.clone(),
            reserved: zero.clone(),
            incoming: zero,
        });
        let amount = row.balance.amount().to_string();
        match row.purpose {
            Purpose::Available => entry.available = amount,
            Purpose::Reserved => entry.reserved = amount,
            Purpose::IncomingPending => entry.incoming = amount,
            _ => {}
        }
    }
    Ok(ApiJson(Balances {
        data: by_asset.into_values().collect(),
    }))
}
