//! Cross-asset quotes: the merchant's balance is in one asset (say USDC), the beneficiary is
//! paid in another (say EURC). `POST /v1/quotes` locks a rate for a short window; a payout that
//! names the quote debits the quote's source amount plus fee and pays its target amount, or is
//! refused with `quote_expired`. At finality the conversion is booked as one balanced entry
//! through the platform's FX account (see `settlement`).

use crate::fees;
use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use corridor_domain::{
    Asset, AssetCode, Money,
    ids::{MerchantId, PayoutId, QuoteId},
};
use corridor_platform::{
    ApiError, ApiJson, AppState,
    auth::{MerchantAuth, Scope},
    config::FxRate,
};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// Where conversion rates come from. The dev profile's is a static table from configuration; a
/// market feed would keep its latest rates in memory behind this same call, so that quoting
/// never waits on the network.
pub trait RateSource: Send + Sync {
    fn name(&self) -> &str;
    /// Units of `target` that one unit of `source` buys, if this source quotes the pair.
    fn rate(&self, source: &AssetCode, target: &AssetCode) -> Option<Decimal>;
}

/// The configured table (`CORRIDOR_FX_RATES`).
pub struct StaticRates<'a>(pub &'a [FxRate]);

impl RateSource for StaticRates<'_> {
    fn name(&self) -> &str {
        "static"
    }

    fn rate(&self, source: &AssetCode, target: &AssetCode) -> Option<Decimal> {
        self.0
            .iter()
            .find(|r| r.source == source.as_str() && r.target == target.as_str())
            .map(|r| r.rate)
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuote {
    /// The balance that pays.
    #[schema(example = "USDC")]
    pub source_asset: String,
    /// What the beneficiary receives.
    #[schema(example = "EURC")]
    pub target_asset: String,
    /// Exactly one of `source_amount` (spend this much) and `target_amount` (deliver this much).
    pub source_amount: Option<String>,
    #[schema(example = "1000.00")]
    pub target_amount: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QuoteView {
    #[schema(value_type = String, example = "quo_0190...")]
    pub id: QuoteId,
    pub source_asset: String,
    pub target_asset: String,
    /// Units of the target asset per unit of the source asset.
    pub rate: String,
    pub rate_source: String,
    pub source_amount: String,
    pub target_amount: String,
    /// The platform fee, in the source asset.
    pub fee: String,
    /// source_amount + fee: what a payout with this quote reserves from the source balance.
    pub total_debit: String,
    /// A payout naming the quote after this moment is refused with `quote_expired`.
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The payout that used the quote; a quote pays one payout.
    #[schema(value_type = Option<String>)]
    pub payout_id: Option<PayoutId>,
}

pub(crate) struct QuoteRow {
    pub id: uuid::Uuid,
    pub source_asset: String,
    pub target_asset: String,
    pub rate: Decimal,
    pub rate_source: String,
    pub source_amount: Decimal,
    pub target_amount: Decimal,
    pub fee: Decimal,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub payout_id: Option<uuid::Uuid>,
    pub expired: bool,
}

impl From<QuoteRow> for QuoteView {
    fn from(q: QuoteRow) -> Self {
        Self {
            id: QuoteId::from_uuid(q.id),
            total_debit: (q.source_amount + q.fee).to_string(),
            source_asset: q.source_asset,
            target_asset: q.target_asset,
            rate: q.rate.normalize().to_string(),
            rate_source: q.rate_source,
            source_amount: q.source_amount.to_string(),
            target_amount: q.target_amount.to_string(),
            fee: q.fee.to_string(),
            expires_at: q.expires_at,
            created_at: q.created_at,
            payout_id: q.payout_id.map(PayoutId::from_uuid),
        }
    }
}

/// The two sides of a conversion at `rate`. From a target amount the source is rounded up, from
/// a source amount the target is rounded down: the platform never delivers more than it takes.
fn convert(
    rate: Decimal,
    source: &Asset,
    target: &Asset,
    source_amount: Option<&str>,
    target_amount: Option<&str>,
) -> Result<(Money, Money), ApiError> {
    match (source_amount, target_amount) {
        (None, Some(t)) => {
            let target_money = Money::parse_positive(t, target)?;
            let needed = target_money
                .amount()
                .checked_div(rate)
                .ok_or_else(|| ApiError::unprocessable("amount_out_of_range", "the amount is too large to convert"))?
                .round_dp_with_strategy(source.scale, RoundingStrategy::AwayFromZero);
            Ok((Money::new(needed, source)?, target_money))
        }
        (Some(s), None) => {
            let source_money = Money::parse_positive(s, source)?;
            let delivered = source_money
                .amount()
                .checked_mul(rate)
                .ok_or_else(|| ApiError::unprocessable("amount_out_of_range", "the amount is too large to convert"))?
                .round_dp_with_strategy(target.scale, RoundingStrategy::ToZero);
            if delivered.is_zero() {
                return Err(ApiError::unprocessable(
                    "amount_too_small",
                    "the source amount converts to less than one unit of the target asset",
                ));
            }
            Ok((source_money, Money::new(delivered, target)?))
        }
        _ => Err(ApiError::unprocessable(
            "quote_amount_required",
            "give exactly one of source_amount and target_amount",
        )),
    }
}

/// Quote a cross-asset payout: rate, fee and expiry. The rate holds until `expires_at`.
#[utoipa::path(post, path = "/v1/quotes", tag = "payouts", request_body = CreateQuote,
    security(("api_key" = [])),
    responses((status = 201, body = QuoteView), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_quote(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiJson(req): ApiJson<CreateQuote>,
) -> Result<(StatusCode, ApiJson<QuoteView>), ApiError> {
    auth.require(Scope::PayoutsWrite)?;
    let registry = state.registry();
    let (source, target) = (registry.get(&req.source_asset)?, registry.get(&req.target_asset)?);
    if source.code == target.code {
        return Err(ApiError::unprocessable(
            "quote_same_asset",
            "source and target are the same asset; pay without a quote",
        ));
    }
    let policy = &state.config().payouts;
    let rates = StaticRates(&policy.fx_rates);
    let rate = rates.rate(&source.code, &target.code).ok_or_else(|| {
        ApiError::unprocessable(
            "quote_unavailable",
            format!("no rate for {} to {}", source.code, target.code),
        )
    })?;
    let (source_money, target_money) = convert(
        rate,
        source,
        target,
        req.source_amount.as_deref(),
        req.target_amount.as_deref(),
    )?;
    let fee = fees::fee(policy, &source_money, source)
        .map_err(|e| ApiError::internal(format!("payout fee for {}: {e}", source.code)))?;
    let id = QuoteId::new();
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = sqlx::query_as!(
        QuoteRow,
        r#"INSERT INTO payouts.quotes
               (id, merchant_id, source_asset, target_asset, rate, rate_source, source_amount, target_amount,
                fee, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10::bigint))
           RETURNING id, source_asset, target_asset, rate, rate_source, source_amount, target_amount, fee,
                     expires_at, created_at, NULL::uuid AS "payout_id?", false AS "expired!""#,
        id.as_uuid(),
        auth.merchant_id.as_uuid(),
        source.code.as_str(),
        target.code.as_str(),
        rate,
        rates.name(),
        source_money.amount(),
        target_money.amount(),
        fee.amount(),
        policy.quote_ttl.as_secs() as i64,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, ApiJson(row.into())))
}

async fn load(
    conn: &mut PgConnection,
    merchant: MerchantId,
    id: QuoteId,
    lock: bool,
) -> Result<Option<QuoteRow>, sqlx::Error> {
    if lock {
        // Serialises two payouts naming one quote; the unique payouts.quote_id backs it up.
        sqlx::query_as!(
            QuoteRow,
            r#"SELECT q.id, q.source_asset, q.target_asset, q.rate, q.rate_source, q.source_amount,
                      q.target_amount, q.fee, q.expires_at, q.created_at, p.id AS "payout_id?",
                      q.expires_at <= now() AS "expired!"
                 FROM payouts.quotes q LEFT JOIN payouts.payouts p ON p.quote_id = q.id
                WHERE q.id = $1 AND q.merchant_id = $2
                  FOR UPDATE OF q"#,
            id.as_uuid(),
            merchant.as_uuid(),
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            QuoteRow,
            r#"SELECT q.id, q.source_asset, q.target_asset, q.rate, q.rate_source, q.source_amount,
                      q.target_amount, q.fee, q.expires_at, q.created_at, p.id AS "payout_id?",
                      q.expires_at <= now() AS "expired!"
                 FROM payouts.quotes q LEFT JOIN payouts.payouts p ON p.quote_id = q.id
                WHERE q.id = $1 AND q.merchant_id = $2"#,
            id.as_uuid(),
            merchant.as_uuid(),
        )
        .fetch_optional(conn)
        .await
    }
}

/// Read a quote.
#[utoipa::path(get, path = "/v1/quotes/{id}", tag = "payouts", security(("api_key" = [])),
    params(("id" = String, Path, description = "quo_...")),
    responses((status = 200, body = QuoteView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_quote(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<QuoteView>, ApiError> {
    auth.require(Scope::PayoutsRead)?;
    let id = QuoteId::parse(&id).map_err(|_| ApiError::not_found("quote"))?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = load(&mut conn, auth.merchant_id, id, false)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("quote"))?;
    Ok(ApiJson(row.into()))
}

/// What a payout with a quote debits: the quote's source amount and fee.
pub(crate) struct Debit {
    pub quote: QuoteId,
    pub amount: Money,
    pub fee: Money,
}

/// Takes the quote for a payout of `paid` (the beneficiary's side), in the payout's transaction.
pub(crate) async fn take(
    conn: &mut PgConnection,
    state: &AppState,
    merchant: MerchantId,
    id: QuoteId,
    paid: &Money,
) -> Result<Debit, ApiError> {
    let q = load(conn, merchant, id, true)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unprocessable("quote_not_found", "no quote with this id belongs to this merchant"))?;
    if q.payout_id.is_some() {
        return Err(ApiError::conflict(
            "quote_already_used",
            "this quote has already paid a payout; ask for a new one",
        ));
    }
    if q.expired {
        return Err(ApiError::unprocessable(
            "quote_expired",
            format!(
                "the quote expired at {}; ask for a new one, nothing was reserved",
                q.expires_at.to_rfc3339()
            ),
        ));
    }
    if q.target_asset != paid.asset().as_str() || q.target_amount != paid.amount() {
        return Err(ApiError::unprocessable(
            "quote_mismatch",
            format!(
                "the quote delivers {} {}, the payout asks for {} {}",
                q.target_amount,
                q.target_asset,
                paid.amount(),
                paid.asset()
            ),
        ));
    }
    let source = state.registry().get(&q.source_asset)?;
    Ok(Debit {
        quote: id,
        amount: Money::new(q.source_amount, source)?,
        fee: Money::new(q.fee, source)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_domain::AssetRegistry;

    #[test]
    fn a_target_amount_rounds_the_source_up_and_a_source_amount_rounds_the_target_down() {
        let registry = AssetRegistry::builtin();
        let (usdc, eurc) = (registry.get("USDC").unwrap(), registry.get("EURC").unwrap());
        let rate: Decimal = "0.92".parse().unwrap();
        // 100 EURC / 0.92 = 108.695652173... -> 108.695653 USDC (up).
        let (s, t) = convert(rate, usdc, eurc, None, Some("100")).unwrap();
        assert_eq!(s.amount(), "108.695653".parse::<Decimal>().unwrap());
        assert_eq!(t.amount(), Decimal::from(100));
        assert!(s.amount() * rate >= t.amount(), "never deliver more than was taken");
        // 0.000001 USDC * 0.92 = 0.00000092 -> 0 EURC: refused rather than a free transfer.
        let err = convert(rate, usdc, eurc, Some("0.000001"), None).unwrap_err();
        assert_eq!(err.code, "amount_too_small");
        let (s, t) = convert(rate, usdc, eurc, Some("10.000001"), None).unwrap();
        assert_eq!(
            (s.amount(), t.amount()),
            ("10.000001".parse().unwrap(), "9.200000".parse().unwrap())
        );
        let err = convert(rate, usdc, eurc, Some("1"), Some("1")).unwrap_err();
        assert_eq!(err.code, "quote_amount_required");
    }
}
