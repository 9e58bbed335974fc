//! The address book: who a merchant pays, on which chain, at which address.

use crate::db::{self, BeneficiaryRow, NewBeneficiary};
use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use corridor_domain::{
    EvmAddress,
    ids::{BeneficiaryId, MerchantId},
};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{MerchantAuth, Scope},
    pagination::{Page, PageQuery},
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BeneficiaryKind {
    Individual,
    Business,
}

impl BeneficiaryKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Business => "business",
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBeneficiary {
    pub kind: BeneficiaryKind,
    #[schema(example = "Lagos Textiles Ltd")]
    pub name: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "NG")]
    pub country: String,
    #[schema(example = 8453)]
    pub chain_id: u64,
    /// EIP-55 checksummed or all lowercase; a mixed-case address with a wrong checksum is refused.
    pub address: String,
    /// Travel-rule identity data, IVMS101-shaped (a JSON object), kept as given.
    #[schema(value_type = Option<Object>)]
    pub travel_rule: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BeneficiaryView {
    #[schema(value_type = String, example = "ben_0190...")]
    pub id: BeneficiaryId,
    pub kind: String,
    pub name: String,
    pub country: String,
    pub chain_id: i64,
    /// EIP-55 checksummed.
    pub address: String,
    #[schema(value_type = Option<Object>)]
    pub travel_rule: Option<serde_json::Value>,
    /// Payouts to this address are accepted from this moment (cooling-off period).
    pub usable_from: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<BeneficiaryRow> for BeneficiaryView {
    fn from(r: BeneficiaryRow) -> Self {
        // Stored lowercase by the table's CHECK; shown checksummed.
        let address = EvmAddress::parse(&r.address).map_or(r.address, |a| a.to_string());
        Self {
            id: BeneficiaryId::from_uuid(r.id),
            kind: r.kind,
            name: r.name,
            country: r.country,
            chain_id: r.chain_id,
            address,
            travel_rule: r.travel_rule,
            usable_from: r.usable_from,
            created_at: r.created_at,
        }
    }
}

/// A beneficiary parsed at the edge: nothing invalid gets past here.
pub struct ValidBeneficiary {
    kind: BeneficiaryKind,
    name: String,
    country: String,
    chain_id: u64,
    address: EvmAddress,
    travel_rule: Option<serde_json::Value>,
}

impl ValidBeneficiary {
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
}

/// Field errors are reported by `field` (a JSON pointer-like path under `prefix`).
pub fn validate(state: &AppState, req: CreateBeneficiary, prefix: &str) -> Result<ValidBeneficiary, ApiError> {
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "invalid_beneficiary_name",
            format!("{prefix}name must have 1 to 200 characters"),
        ));
    }
    if req.country.len() != 2 || !req.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::unprocessable(
            "invalid_country",
            format!("{prefix}country must be an ISO 3166-1 alpha-2 code such as DE"),
        ));
    }
    supported_chain(state, req.chain_id, &format!("{prefix}chain_id"))?;
    let address = parse_address(&req.address, &format!("{prefix}address"))?;
    if address.as_alloy().is_zero() {
        return Err(ApiError::unprocessable(
            "invalid_address",
            format!("{prefix}address cannot be the zero address"),
        ));
    }
    if let Some(tr) = &req.travel_rule
        && !tr.is_object()
    {
        return Err(ApiError::unprocessable(
            "invalid_travel_rule",
            format!("{prefix}travel_rule must be an IVMS101-shaped JSON object"),
        ));
    }
    Ok(ValidBeneficiary {
        kind: req.kind,
        name,
        country: req.country,
        chain_id: req.chain_id,
        address,
        travel_rule: req.travel_rule,
    })
}

/// Stores a validated beneficiary in the caller's transaction.
pub async fn insert(
    conn: &mut PgConnection,
    state: &AppState,
    merchant: MerchantId,
    b: &ValidBeneficiary,
) -> Result<BeneficiaryRow, ApiError> {
    let cooling_off_secs = i64::try_from(state.config().payouts.cooling_off.as_secs()).unwrap_or(i64::MAX);
    db::insert_beneficiary(
        conn,
        NewBeneficiary {
            id: BeneficiaryId::new(),
            merchant,
            kind: b.kind.as_str(),
            name: &b.name,
            country: &b.country,
            chain_id: b.chain_id as i64,
            address: &b.address.to_lowercase_hex(),
            travel_rule: b.travel_rule.as_ref(),
            cooling_off_secs,
        },
    )
    .await
    .map_err(ApiError::internal)
}

/// Add a beneficiary. A new address can be paid once its cooling-off period has passed.
#[utoipa::path(post, path = "/v1/beneficiaries", tag = "payouts", request_body = CreateBeneficiary,
    security(("api_key" = [])),
    responses((status = 201, body = BeneficiaryView), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_beneficiary(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiJson(req): ApiJson<CreateBeneficiary>,
) -> Result<(StatusCode, ApiJson<BeneficiaryView>), ApiError> {
    auth.require(Scope::PayoutsWrite)?;
    let valid = validate(&state, req, "")?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = insert(&mut conn, &state, auth.merchant_id, &valid).await?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

#[utoipa::path(get, path = "/v1/beneficiaries/{id}", tag = "payouts", security(("api_key" = [])),
    params(("id" = String, Path, description = "ben_...")),
    responses((status = 200, body = BeneficiaryView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_beneficiary(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<BeneficiaryView>, ApiError> {
    auth.require(Scope::PayoutsRead)?;
    let id = BeneficiaryId::parse(&id).map_err(|_| ApiError::not_found("beneficiary"))?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::beneficiary(&mut conn, auth.merchant_id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("beneficiary"))?;
    Ok(ApiJson(row.into()))
}

/// This merchant's beneficiaries, newest first.
#[utoipa::path(get, path = "/v1/beneficiaries", tag = "payouts", params(PageQuery), security(("api_key" = [])),
    responses((status = 200, body = Page<BeneficiaryView>)))]
pub async fn list_beneficiaries(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<BeneficiaryView>>, ApiError> {
    auth.require(Scope::PayoutsRead)?;
    let (limit, cursor) = q.parse::<BeneficiaryId>()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = db::beneficiaries(&mut conn, auth.merchant_id, cursor, i64::from(limit) + 1)
        .await
        .map_err(ApiError::internal)?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |r| BeneficiaryId::from_uuid(r.id).to_string(),
        BeneficiaryView::from,
    )))
}

/// A chain this gateway has a stablecoin on, or 422 `unsupported_chain` naming `field`.
pub(crate) fn supported_chain(state: &AppState, chain_id: u64, field: &str) -> Result<(), ApiError> {
    if state.registry().deployments().iter().any(|d| d.chain_id == chain_id) {
        return Ok(());
    }
    Err(ApiError::unprocessable(
        "unsupported_chain",
        format!("{field} {chain_id} is not a chain this gateway has a stablecoin on"),
    ))
}

/// An EVM address, EIP-55 checksummed or lowercase, or 422 `invalid_address` naming `field`.
pub(crate) fn parse_address(input: &str, field: &str) -> Result<EvmAddress, ApiError> {
    EvmAddress::parse(input).map_err(|e| ApiError::unprocessable("invalid_address", format!("{field} {input:?}: {e}")))
}
