//! An invoice request parsed at the edge: line items, taxes and totals are computed here, once,
//! and a request whose figures do not add up never reaches the database.

use chrono::{DateTime, Utc};
use corridor_domain::{Asset, AssetKind, AssetRegistry, EvmAddress, Money};
use corridor_platform::{ApiError, error::FieldError};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

pub const LINE_ITEMS_MAX: usize = 100;
pub const PAYMENT_OPTIONS_MAX: usize = 20;
const DESCRIPTION_CHARS_MAX: usize = 500;
const MEMO_CHARS_MAX: usize = 2_000;
/// Quantities are kept to this many decimals (hours, kilograms...).
const QUANTITY_SCALE_MAX: u32 = 6;
/// Tax rates are percentages with at most this many decimals (19, 7.7, 20.5).
const TAX_RATE_SCALE_MAX: u32 = 4;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Buyer {
    #[schema(example = "Lagos Textiles Ltd")]
    pub name: String,
    #[schema(example = "ap@lagostextiles.example")]
    pub email: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "NG")]
    pub country: String,
    /// The buyer's wallet, if known (EIP-55 checksummed or lowercase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemInput {
    #[schema(example = "Cotton fabric, 40 m")]
    pub description: String,
    /// A positive decimal string.
    #[schema(example = "2")]
    pub quantity: String,
    /// In the invoice's currency, at most its number of decimals.
    #[schema(example = "500.00")]
    pub unit_price: String,
    /// A percentage of the line amount, for example "19" or "7.7". Absent means no tax.
    #[serde(default)]
    #[schema(example = "19")]
    pub tax_rate: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceInput {
    /// The stablecoin the invoice is denominated and paid in: USDC or EURC.
    #[schema(example = "USDC")]
    pub currency: String,
    pub buyer: Buyer,
    pub line_items: Vec<LineItemInput>,
    /// When payment is due (RFC 3339). It must lie in the future when the invoice is finalized.
    pub due_at: DateTime<Utc>,
    #[serde(default)]
    pub memo: Option<String>,
    /// Chains the buyer may pay on. Absent: every chain the currency is deployed on.
    #[serde(default)]
    #[schema(example = json!([8453]))]
    pub chains: Option<Vec<u64>>,
    /// If given, the total the caller expects; a different computed total is refused
    /// (`total_mismatch`), so a client's arithmetic and Corridor's never disagree silently.
    #[serde(default)]
    #[schema(example = "1190.00")]
    pub expected_total: Option<String>,
}

/// One line as stored and shown: the input plus its computed amount and tax.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LineItem {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub tax_rate: Option<String>,
    /// quantity x unit_price, rounded half away from zero to the currency's decimals.
    pub amount: String,
    /// amount x tax_rate / 100, rounded the same way.
    pub tax: String,
}

/// An invoice whose every field has been checked and whose totals are computed.
#[derive(Debug, Clone)]
pub struct ValidInvoice {
    pub currency: Asset,
    pub buyer: Buyer,
    pub line_items: Vec<LineItem>,
    pub due_at: DateTime<Utc>,
    pub memo: Option<String>,
    /// (chain id, asset code) pairs, without duplicates.
    pub payment_options: Vec<(u64, String)>,
    pub subtotal: Money,
    pub tax_total: Money,
    pub total: Money,
}

fn field(pointer: String, code: &'static str, detail: impl Into<String>) -> FieldError {
    FieldError {
        pointer,
        code: code.into(),
        detail: detail.into(),
    }
}

/// A plain decimal: digits and at most one point, no sign or exponent.
fn plain_decimal(input: &str, scale_max: u32) -> Option<Decimal> {
    let (int_part, frac) = input.split_once('.').unwrap_or((input, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || int_part.len() > 12 || !digits(int_part) || !digits(frac) {
        return None;
    }
    if input.contains('.') && frac.is_empty() || frac.len() > scale_max as usize {
        return None;
    }
    Decimal::from_str_exact(input).ok()
}

fn round(value: Decimal, scale: u32) -> Decimal {
    let mut v = value.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(scale);
    v
}

fn money(amount: Decimal, asset: &Asset) -> Result<Money, ApiError> {
    Money::new(amount, asset).map_err(|e| ApiError::unprocessable("invalid_amount", e.to_string()))
}

/// The currency must be a stablecoin the registry knows; fiat-denominated invoices need the
/// quote window (not built yet) and are refused with a code that says so.
fn currency(registry: &AssetRegistry, code: &str) -> Result<Asset, ApiError> {
    let asset = registry.get(code.trim()).map_err(|_| {
        ApiError::unprocessable(
            "unknown_currency",
            format!("currency {code:?} is not an ISO 4217 code or a stablecoin Corridor knows"),
        )
    })?;
    if asset.kind != AssetKind::Stablecoin {
        return Err(ApiError::unprocessable(
            "currency_not_supported",
            format!(
                "invoices are denominated in a stablecoin (USDC or EURC); {} invoices need a quoted rate window, which this gateway does not offer yet",
                asset.code
            ),
        ));
    }
    Ok(asset.clone())
}

pub fn validate(registry: &AssetRegistry, req: InvoiceInput) -> Result<ValidInvoice, ApiError> {
    let asset = currency(registry, &req.currency)?;
    let mut errors = Vec::new();

    let name = req.buyer.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(field(
            "/buyer/name".into(),
            "invalid_buyer",
            "must have 1 to 200 characters",
        ));
    }
    let email = req.buyer.email.trim();
    let email_ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !email.contains(char::is_whitespace);
    if !email_ok {
        errors.push(field(
            "/buyer/email".into(),
            "invalid_buyer",
            "must be an email address",
        ));
    }
    let country = &req.buyer.country;
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        errors.push(field(
            "/buyer/country".into(),
            "invalid_country",
            "must be an ISO 3166-1 alpha-2 code such as NG",
        ));
    }
    let wallet = match req.buyer.wallet.as_deref().map(EvmAddress::parse) {
        None => None,
        Some(Ok(a)) => Some(a.to_string()),
        Some(Err(e)) => {
            errors.push(field("/buyer/wallet".into(), "invalid_address", e.to_string()));
            None
        }
    };

    if req.line_items.is_empty() || req.line_items.len() > LINE_ITEMS_MAX {
        errors.push(field(
            "/line_items".into(),
            "invalid_line_items",
            format!("an invoice has 1 to {LINE_ITEMS_MAX} line items"),
        ));
    }
    let scale = asset.scale;
    let (mut subtotal, mut tax_total) = (Decimal::ZERO, Decimal::ZERO);
    let mut lines = Vec::with_capacity(req.line_items.len().min(LINE_ITEMS_MAX));
    for (i, item) in req.line_items.iter().take(LINE_ITEMS_MAX).enumerate() {
        let at = |f: &str| format!("/line_items/{i}/{f}");
        let description = item.description.trim();
        if description.is_empty() || description.chars().count() > DESCRIPTION_CHARS_MAX {
            errors.push(field(
                at("description"),
                "invalid_line_item",
                format!("must have 1 to {DESCRIPTION_CHARS_MAX} characters"),
            ));
        }
        let quantity = plain_decimal(&item.quantity, QUANTITY_SCALE_MAX).filter(|q| !q.is_zero());
        if quantity.is_none() {
            errors.push(field(
                at("quantity"),
                "invalid_quantity",
                format!(
                    "must be a positive decimal with at most {QUANTITY_SCALE_MAX} decimals, got {:?}",
                    item.quantity
                ),
            ));
        }
        let unit_price = plain_decimal(&item.unit_price, scale);
        if unit_price.is_none() {
            errors.push(field(
                at("unit_price"),
                "invalid_unit_price",
                format!(
                    "must be a non-negative decimal with at most {scale} decimals ({}), got {:?}",
                    asset.code, item.unit_price
                ),
            ));
        }
        let tax_rate = match item.tax_rate.as_deref() {
            None => Some(None),
            Some(raw) => plain_decimal(raw, TAX_RATE_SCALE_MAX)
                .filter(|r| *r <= Decimal::ONE_HUNDRED)
                .map(Some),
        };
        if tax_rate.is_none() {
            errors.push(field(
                at("tax_rate"),
                "invalid_tax_rate",
                "must be a percentage between 0 and 100 with at most 4 decimals",
            ));
        }
        let (Some(quantity), Some(unit_price), Some(tax_rate)) = (quantity, unit_price, tax_rate) else {
            continue;
        };
        let Some(amount) = quantity.checked_mul(unit_price).map(|a| round(a, scale)) else {
            errors.push(field(
                at("quantity"),
                "invalid_quantity",
                "quantity x unit_price is too large",
            ));
            continue;
        };
        let tax = tax_rate.map_or(round(Decimal::ZERO, scale), |rate| {
            round(amount * rate / Decimal::ONE_HUNDRED, scale)
        });
        subtotal += amount;
        tax_total += tax;
        lines.push(LineItem {
            description: description.to_owned(),
            quantity: quantity.normalize().to_string(),
            unit_price: round(unit_price, scale).to_string(),
            tax_rate: tax_rate.map(|r| r.normalize().to_string()),
            amount: amount.to_string(),
            tax: tax.to_string(),
        });
    }

    let memo = req.memo.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
    if memo.as_ref().is_some_and(|m| m.chars().count() > MEMO_CHARS_MAX) {
        errors.push(field(
            "/memo".into(),
            "invalid_memo",
            format!("at most {MEMO_CHARS_MAX} characters"),
        ));
    }

    let deployed: Vec<u64> = registry
        .deployments()
        .iter()
        .filter(|d| d.asset == asset.code)
        .map(|d| d.chain_id)
        .collect();
    let mut payment_options = Vec::new();
    match &req.chains {
        None => payment_options.extend(deployed.iter().map(|c| (*c, asset.code.as_str().to_owned()))),
        Some(chains) if chains.is_empty() || chains.len() > PAYMENT_OPTIONS_MAX => errors.push(field(
            "/chains".into(),
            "invalid_payment_options",
            format!("name 1 to {PAYMENT_OPTIONS_MAX} chains, or leave chains out for all"),
        )),
        Some(chains) => {
            for (i, chain) in chains.iter().enumerate() {
                if !deployed.contains(chain) {
                    errors.push(field(
                        format!("/chains/{i}"),
                        "unsupported_chain",
                        format!("{} is not deployed on chain {chain} in this gateway", asset.code),
                    ));
                } else if !payment_options.iter().any(|(c, _)| c == chain) {
                    payment_options.push((*chain, asset.code.as_str().to_owned()));
                }
            }
        }
    }
    if payment_options.is_empty() && req.chains.is_none() {
        errors.push(field(
            "/currency".into(),
            "unsupported_chain",
            format!("{} is not deployed on any chain this gateway serves", asset.code),
        ));
    }

    if !errors.is_empty() {
        let first = errors[0].code.clone();
        return Err(ApiError::unprocessable(first, "the invoice has invalid fields; see errors").with_errors(errors));
    }

    let subtotal = money(subtotal, &asset)?;
    let tax_total = money(tax_total, &asset)?;
    let total = subtotal
        .checked_add(&tax_total)
        .map_err(|e| ApiError::unprocessable("invalid_amount", e.to_string()))?;
    if !total.is_positive() {
        return Err(ApiError::unprocessable(
            "invalid_total",
            "an invoice's total must be greater than zero",
        ));
    }
    if let Some(expected) = req.expected_total.as_deref() {
        let matches = Money::parse(expected, &asset).is_ok_and(|e| e == total);
        if !matches {
            return Err(ApiError::unprocessable(
                "total_mismatch",
                format!(
                    "expected_total {expected:?} does not match the total of the line items and taxes, {} {} (subtotal {} + tax {})",
                    total.amount(),
                    asset.code,
                    subtotal.amount(),
                    tax_total.amount()
                ),
            ));
        }
    }
    Ok(ValidInvoice {
        currency: asset,
        buyer: Buyer {
            name: name.to_owned(),
            email: email.to_owned(),
            country: country.clone(),
            wallet,
        },
        line_items: lines,
        due_at: req.due_at,
        memo,
        payment_options,
        subtotal,
        tax_total,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: serde_json::Value) -> InvoiceInput {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> serde_json::Value {
        json!({
            "currency": "USDC",
            "buyer": { "name": "Lagos Textiles Ltd", "email": "ap@lagos.example", "country": "NG" },
            "line_items": [
                { "description": "Fabric", "quantity": "3", "unit_price": "33.333333", "tax_rate": "19" },
                { "description": "Shipping", "quantity": "1.5", "unit_price": "10.000001" }
            ],
            "due_at": "2030-01-01T00:00:00Z",
            "chains": [8453]
        })
    }

    #[test]
    fn totals_are_computed_per_line_and_rounded_half_away_from_zero() {
        let v = validate(&AssetRegistry::builtin(), input(base())).unwrap();
        // 3 x 33.333333 = 99.999999; tax 19 % = 18.99999981 -> 19.000000.
        assert_eq!(v.line_items[0].amount, "99.999999");
        assert_eq!(v.line_items[0].tax, "19.000000");
        // 1.5 x 10.000001 = 15.0000015 -> 15.000002 (half away from zero).
        assert_eq!(v.line_items[1].amount, "15.000002");
        assert_eq!(v.subtotal.amount().to_string(), "115.000001");
        assert_eq!(v.tax_total.amount().to_string(), "19.000000");
        assert_eq!(v.total.amount().to_string(), "134.000001");
        assert_eq!(v.payment_options, vec![(8453, "USDC".to_owned())]);
    }

    #[test]
    fn an_expected_total_that_does_not_add_up_is_refused_naming_the_computed_one() {
        let mut body = base();
        body["expected_total"] = json!("134.00");
        let e = validate(&AssetRegistry::builtin(), input(body.clone())).unwrap_err();
        assert_eq!(e.code, "total_mismatch");
        assert!(e.detail.contains("134.000001"), "{}", e.detail);
        body["expected_total"] = json!("134.000001");
        validate(&AssetRegistry::builtin(), input(body)).unwrap();
    }

    #[test]
    fn bad_lines_are_each_reported_by_pointer() {
        let mut body = base();
        body["line_items"] = json!([
            { "description": "", "quantity": "-1", "unit_price": "1" },
            { "description": "x", "quantity": "1", "unit_price": "1.0000001", "tax_rate": "101" },
            { "description": "x", "quantity": "1e3", "unit_price": "-5" }
        ]);
        let e = validate(&AssetRegistry::builtin(), input(body)).unwrap_err();
        let got: Vec<(&str, &str)> = e.errors.iter().map(|f| (f.pointer.as_str(), f.code.as_ref())).collect();
        assert_eq!(
            got,
            [
                ("/line_items/0/description", "invalid_line_item"),
                ("/line_items/0/quantity", "invalid_quantity"),
                ("/line_items/1/unit_price", "invalid_unit_price"),
                ("/line_items/1/tax_rate", "invalid_tax_rate"),
                ("/line_items/2/quantity", "invalid_quantity"),
                ("/line_items/2/unit_price", "invalid_unit_price"),
            ]
        );
    }

    #[test]
    fn currencies_must_be_known_stablecoins() {
        for (currency, code) in [("XXX1", "unknown_currency"), ("EUR", "currency_not_supported")] {
            let mut body = base();
            body["currency"] = json!(currency);
            assert_eq!(validate(&AssetRegistry::builtin(), input(body)).unwrap_err().code, code);
        }
        let mut body = base();
        body["chains"] = json!([8453, 999]);
        let e = validate(&AssetRegistry::builtin(), input(body)).unwrap_err();
        assert_eq!(e.errors[0].pointer, "/chains/1");
        // No chains given: every deployment of the currency.
        let mut body = base();
        body.as_object_mut().unwrap().remove("chains");
        let v = validate(&AssetRegistry::builtin(), input(body)).unwrap();
        assert!(v.payment_options.len() > 3 && v.payment_options.iter().all(|(_, a)| a == "USDC"));
    }

    #[test]
    fn buyer_fields_are_checked() {
        let mut body = base();
        body["buyer"] = json!({ "name": " ", "email": "no-at", "country": "ng", "wallet": "0x12" });
        let e = validate(&AssetRegistry::builtin(), input(body)).unwrap_err();
        let pointers: Vec<&str> = e.errors.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/buyer/name", "/buyer/email", "/buyer/country", "/buyer/wallet"]
        );
    }
}
