//! Treasury endpoints of reconciliation (console sessions, `treasury` or `platform_admin`): the
//! bank accounts reconciled, and bank statement imports.

use crate::{
    ids::{BankAccountId, BankLineId, ManualDecisionId, RampOrderId, RunId, StatementFileId},
    import::{self, ImportError, Imported},
};
use axum::{
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{ConsoleAuth, Role},
};
use corridor_store::StoreError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const TREASURY: [Role; 2] = [Role::Treasury, Role::PlatformAdmin];

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let detail = e.to_string();
        match e {
            ImportError::Parse { .. } => ApiError::unprocessable("invalid_statement_file", detail),
            ImportError::UnknownAccount { .. } => ApiError::unprocessable("unknown_bank_account", detail),
            ImportError::WrongCurrency { .. } => ApiError::unprocessable("currency_mismatch", detail),
            ImportError::NoCsvMapping => ApiError::unprocessable("no_csv_mapping", detail),
            ImportError::Store(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBankAccount {
    /// IBAN or the bank's account number (spaces are ignored).
    pub account: String,
    /// ISO 4217, e.g. "EUR".
    pub currency: String,
    pub name: String,
    /// The ramp partner this account settles with, if any.
    #[serde(default)]
    pub partner: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BankAccountView {
    pub id: String,
    pub account: String,
    pub currency: String,
    pub name: String,
    pub partner: Option<String>,
    pub created_at: DateTime<Utc>,
}

struct BankAccountRow {
    id: Uuid,
    account: String,
    currency: String,
    name: String,
    partner: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<BankAccountRow> for BankAccountView {
    fn from(r: BankAccountRow) -> Self {
        BankAccountView {
            id: BankAccountId::from_uuid(r.id).to_string(),
            account: r.account,
            currency: r.currency,
            name: r.name,
            partner: r.partner,
            created_at: r.created_at,
        }
    }
}

/// Register a bank account whose statements treasury imports.
#[utoipa::path(post, path = "/v1/treasury/reconciliation/bank-accounts", tag = "reconciliation",
    security(("console_session" = [])), request_body = NewBankAccount,
    responses((status = 201, body = BankAccountView), (status = 409, body = corridor_platform::error::Problem),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_bank_account(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiJson(body): ApiJson<NewBankAccount>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let account = import::normalize_account(&body.account);
    if account.is_empty()
        || account.len() > 64
        || !account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.-".contains(&b))
    {
        return Err(ApiError::unprocessable(
            "invalid_account",
            "account must be an IBAN or account number: letters, digits, / . - (at most 64)",
        ));
    }
    match state.registry().get(&body.currency) {
        Ok(a) if a.kind == corridor_domain::AssetKind::Fiat => {}
        _ => {
            return Err(ApiError::unprocessable(
                "unknown_currency",
                format!("{:?} is not an ISO 4217 currency", body.currency),
            ));
        }
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::unprocessable("invalid_name", "name must be 1-200 characters"));
    }
    let partner = body.partner.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if partner.is_some_and(|p| p.chars().count() > 100) {
        return Err(ApiError::unprocessable(
            "invalid_partner",
            "partner must be at most 100 characters",
        ));
    }
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let row = sqlx::query_as!(
        BankAccountRow,
        r#"INSERT INTO reconciliation.bank_accounts (id, account, currency, name, partner)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account) DO NOTHING
           RETURNING id, account, currency, name, partner, created_at"#,
        Uuid::now_v7(),
        account,
        body.currency,
        name,
        partner,
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(ApiError::from)?
    .ok_or_else(|| ApiError::conflict("bank_account_exists", format!("{account} is already registered")))?;
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "reconciliation.bank_account_created",
        &row.account,
        &serde_json::json!({ "currency": row.currency, "name": row.name, "partner": row.partner }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, ApiJson(BankAccountView::from(row))).into_response())
}

/// Every bank account treasury reconciles (a short, bounded list: at most 1,000).
#[utoipa::path(get, path = "/v1/treasury/reconciliation/bank-accounts", tag = "reconciliation",
    security(("console_session" = [])), responses((status = 200, body = Vec<BankAccountView>)))]
pub async fn list_bank_accounts(
    State(state): State<AppState>,
    auth: ConsoleAuth,
) -> Result<ApiJson<Vec<BankAccountView>>, ApiError> {
    auth.require_any(&TREASURY)?;
    let rows = sqlx::query_as!(
        BankAccountRow,
        "SELECT id, account, currency, name, partner, created_at FROM reconciliation.bank_accounts ORDER BY account LIMIT 1000"
    )
    .fetch_all(state.pool())
    .await
    .map_err(ApiError::from)?;
    Ok(ApiJson(rows.into_iter().map(BankAccountView::from).collect()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The file's name, quoted in every error about it.
    pub file_name: String,
    /// For a CSV export: the bank account (`bacc_...`) whose column mapping reads it.
    pub bank_account_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportView {
    pub file_id: String,
    pub format: String,
    pub statements: i32,
    pub lines: i32,
    /// Lines already imported from another file (or twice in this one), kept and marked.
    pub duplicate_lines: i32,
    /// The same file was imported before: nothing changed.
    pub already_imported: bool,
}

impl From<Imported> for ImportView {
    fn from(i: Imported) -> Self {
        ImportView {
            file_id: StatementFileId::from_uuid(i.file_id).to_string(),
            format: i.format,
            statements: i.statements,
            lines: i.lines,
            duplicate_lines: i.duplicate_lines,
            already_imported: i.already_imported,
        }
    }
}

/// Import a bank statement file (camt.052/053/054, MT940 or BAI2, recognised from its content;
/// the raw file is the body). All or nothing: a bad file, a statement for an account not
/// registered, or one that does not balance is refused naming the file and line, and nothing
/// is stored. The same file again answers 200 and changes nothing.
#[utoipa::path(post, path = "/v1/treasury/reconciliation/statements", tag = "reconciliation",
    security(("console_session" = [])), params(ImportQuery),
    request_body(content = String, content_type = "application/octet-stream"),
    responses((status = 201, body = ImportView), (status = 200, body = ImportView),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn import_statement(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let file_name = q.file_name.trim();
    if file_name.is_empty() || file_name.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "invalid_file_name",
            "file_name must be 1-255 characters",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_statement_file",
            format!("{file_name}: the file is empty; send one of {}", import::formats()),
        ));
    }
    let csv_account = q.bank_account_id.as_deref().map(parse_bank_account_id).transpose()?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let imported = import::import(&mut tx, file_name, &body, Some(auth.user_id.as_uuid()), csv_account).await?;
    if imported.already_imported {
        return Ok((StatusCode::OK, ApiJson(ImportView::from(imported))).into_response());
    }
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "reconciliation.statement_imported",
        &StatementFileId::from_uuid(imported.file_id).to_string(),
        &serde_json::json!({ "file_name": file_name, "format": imported.format, "lines": imported.lines,
                             "duplicate_lines": imported.duplicate_lines }),
    )
    .await?;
    corridor_store::error::commit(tx).await?;
    Ok((StatusCode::CREATED, ApiJson(ImportView::from(imported))).into_response())
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RampDirection {
    /// Fiat arrives at the bank; stablecoins arrive at the treasury.
    On,
    /// Stablecoins go to the partner's deposit address; fiat leaves the bank.
    Off,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRampOrder {
    pub direction: RampDirection,
    pub partner: String,
    /// The registered bank account the fiat moves through (`bacc_...`).
    pub bank_account_id: String,
    pub fiat_amount: String,
    pub asset: String,
    pub chain_id: u64,
    /// The stablecoin amount, a decimal in the asset.
    pub token_amount: String,
    /// The treasury (on-ramp) or the partner's deposit address (off-ramp).
    pub chain_address: String,
    #[serde(default)]
    pub fee: Option<String>,
    #[serde(default)]
    pub fx_rate: Option<String>,
    /// The partner's reference, expected on the bank line; unique per partner.
    pub reference: String,
    pub expected_on: chrono::NaiveDate,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RampOrderView {
    pub id: String,
    pub reference: String,
    pub token_contract: String,
    /// Base units on chain.
    pub token_units: String,
}

fn parse_bank_account_id(raw: &str) -> Result<Uuid, ApiError> {
    BankAccountId::parse(raw)
        .map(|id| id.as_uuid())
        .map_err(|e| ApiError::unprocessable("invalid_bank_account_id", e.to_string()))
}

/// Record a ramp order: what treasury expects to see at the bank and on chain.
#[utoipa::path(post, path = "/v1/treasury/reconciliation/ramp-orders", tag = "reconciliation",
    security(("console_session" = [])), request_body = NewRampOrder,
    responses((status = 201, body = RampOrderView), (status = 409, body = corridor_platform::error::Problem),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_ramp_order(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiJson(body): ApiJson<NewRampOrder>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let view = match insert_ramp_order(&mut tx, &state, &body, auth.user_id.as_uuid()).await? {
        Recorded::New(view) => view,
        Recorded::Same(_) => {
            return Err(ApiError::conflict(
                "ramp_order_exists",
                format!(
                    "{} already has an order with reference {:?}",
                    body.partner.trim(),
                    body.reference.trim()
                ),
            ));
        }
    };
    tx.commit().await.map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, ApiJson(view)).into_response())
}

/// What recording an order did: a new order, or the same order already recorded.
pub enum Recorded {
    New(RampOrderView),
    Same(RampOrderView),
}

/// Checks an order and records it in the caller's transaction. The same partner and reference
/// with the same amounts and date is `Same`; with different ones it is refused.
pub async fn insert_ramp_order(
    tx: &mut sqlx::PgConnection,
    state: &AppState,
    body: &NewRampOrder,
    actor: Uuid,
) -> Result<Recorded, ApiError> {
    let bank_account = parse_bank_account_id(&body.bank_account_id)?;
    let asset = state.registry().get(&body.asset)?.clone();
    let deployment = state.registry().deployment(&asset.code, body.chain_id)?;
    let token_amount = corridor_domain::Money::parse_positive(&body.token_amount, &asset)?;
    let units = token_amount.to_base_units(deployment.decimals)?;
    let token_units: rust_decimal::Decimal = units
        .to_string()
        .parse()
        .map_err(|_| ApiError::unprocessable("amount_out_of_range", "token amount out of range"))?;
    let address = corridor_domain::EvmAddress::parse(&body.chain_address)
        .map_err(|e| ApiError::unprocessable("invalid_address", e.to_string()))?;
    let reference = body.reference.trim();
    let partner = body.partner.trim();
    if reference.is_empty() || reference.chars().count() > 100 || partner.is_empty() || partner.chars().count() > 100 {
        return Err(ApiError::unprocessable(
            "invalid_text",
            "partner and reference must be 1-100 characters",
        ));
    }
    let currency = sqlx::query_scalar!(
        "SELECT currency FROM reconciliation.bank_accounts WHERE id = $1",
        bank_account
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(ApiError::from)?
    .ok_or_else(|| ApiError::unprocessable("unknown_bank_account", "no such bank account"))?;
    let fiat_asset = state.registry().get(&currency)?;
    let fiat = corridor_domain::Money::parse_positive(&body.fiat_amount, fiat_asset)?;
    let decimal = |raw: &Option<String>, what: &str| -> Result<Option<rust_decimal::Decimal>, ApiError> {
        raw.as_deref()
            .map(|v| {
                rust_decimal::Decimal::from_str_exact(v)
                    .ok()
                    .filter(|d| !d.is_sign_negative())
                    .ok_or_else(|| {
                        ApiError::unprocessable("invalid_amount", format!("{what} must be a non-negative decimal"))
                    })
            })
            .transpose()
    };
    let fee = decimal(&body.fee, "fee")?.unwrap_or_default();
    let fx_rate = decimal(&body.fx_rate, "fx_rate")?;
    let token_contract = deployment.token.to_string().to_lowercase();
    let existing = sqlx::query!(
        r#"SELECT id, fiat_amount, token_units, token_contract, chain_address, expected_on, direction
             FROM reconciliation.ramp_orders WHERE partner = $1 AND reference = $2"#,
        partner,
        reference,
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(ApiError::from)?;
    if let Some(e) = existing {
        let direction = match body.direction {
            RampDirection::On => "on",
            RampDirection::Off => "off",
        };
        let same = e.fiat_amount == fiat.amount()
            && e.token_units == token_units
            && e.token_contract == token_contract
            && e.chain_address == address.to_string().to_lowercase()
            && e.expected_on == body.expected_on
            && e.direction == direction;
        if !same {
            return Err(ApiError::conflict(
                "ramp_order_conflict",
                format!("{partner} already has an order {reference:?} with different amounts, addresses or date"),
            ));
        }
        return Ok(Recorded::Same(RampOrderView {
            id: RampOrderId::from_uuid(e.id).to_string(),
            reference: reference.to_owned(),
            token_contract,
            token_units: token_units.to_string(),
        }));
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        r#"INSERT INTO reconciliation.ramp_orders
               (id, direction, partner, bank_account_id, fiat_amount, fiat_currency, asset, chain_id, token_contract,
                token_units, chain_address, fee, fx_rate, reference, expected_on, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"#,
        id,
        match body.direction {
            RampDirection::On => "on",
            RampDirection::Off => "off",
        },
        partner,
        bank_account,
        fiat.amount(),
        currency,
        asset.code.as_str(),
        i64::try_from(body.chain_id)
            .map_err(|_| ApiError::unprocessable("unsupported_chain", "chain id out of range"))?,
        token_contract,
        token_units,
        address.to_string().to_lowercase(),
        fee,
        fx_rate,
        reference,
        body.expected_on,
        actor,
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Constraint(c) if c == "ramp_orders_reference_once" => ApiError::conflict(
            "ramp_order_exists",
            format!("{partner} already has an order with reference {reference:?}"),
        ),
        other => other.into(),
    })?;
    Ok(Recorded::New(RampOrderView {
        id: RampOrderId::from_uuid(id).to_string(),
        reference: reference.to_owned(),
        token_contract,
        token_units: token_units.to_string(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    /// First and last day of the period (inclusive); orders expected in it are reconciled.
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    /// A bank amount within this of the order's still matches (default 0).
    #[serde(default)]
    pub amount_drift: Option<String>,
    /// Days either side of the expected date to look for the bank line and transfer (default 5, at most 31).
    #[serde(default)]
    pub date_window_days: Option<i64>,
    /// A booking further than this from the expected date is a timing exception (default 1).
    #[serde(default)]
    pub timing_days: Option<i64>,
    /// Match and report without storing the run.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResultView {
    pub status: String,
    pub exceptions: Vec<String>,
    pub order_id: Option<String>,
    pub bank_line_id: Option<String>,
    pub observation_id: Option<String>,
    pub confidence: u8,
    pub detail: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunView {
    /// Absent for a dry run.
    pub id: Option<String>,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    /// SHA-256 of the canonical report, hex: a rerun over the same data gives the same hash.
    pub report_hash: String,
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    pub results: Vec<ResultView>,
}

/// Reconcile a period: ramp orders against bank lines and chain transfers. The run and its
/// results are stored (unless `dry_run`); nothing is posted to the ledger.
#[utoipa::path(post, path = "/v1/treasury/reconciliation/runs", tag = "reconciliation",
    security(("console_session" = [])), request_body = NewRun,
    responses((status = 201, body = RunView), (status = 200, description = "dry run", body = RunView),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_run(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiJson(body): ApiJson<NewRun>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    if body.to < body.from {
        return Err(ApiError::unprocessable("invalid_period", "to must not be before from"));
    }
    if (body.to - body.from).num_days() >= crate::runs::PERIOD_DAYS_MAX {
        return Err(ApiError::unprocessable(
            "invalid_period",
            format!("a run covers at most {} days", crate::runs::PERIOD_DAYS_MAX),
        ));
    }
    let mut rules = crate::matching::Rules::default();
    if let Some(d) = &body.amount_drift {
        rules.amount_drift = rust_decimal::Decimal::from_str_exact(d)
            .ok()
            .filter(|d| !d.is_sign_negative())
            .ok_or_else(|| ApiError::unprocessable("invalid_rule", "amount_drift must be a non-negative decimal"))?;
    }
    if let Some(w) = body.date_window_days {
        if !(0..=31).contains(&w) {
            return Err(ApiError::unprocessable("invalid_rule", "date_window_days must be 0-31"));
        }
        rules.date_window_days = w;
    }
    if let Some(t) = body.timing_days {
        if !(0..=31).contains(&t) {
            return Err(ApiError::unprocessable("invalid_rule", "timing_days must be 0-31"));
        }
        rules.timing_days = t;
    }
    let period = crate::runs::Period {
        from: body.from,
        to: body.to,
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let report = crate::runs::plan(&mut tx, period, rules).await?;
    let id = if body.dry_run {
        None
    } else {
        let id = crate::runs::record(&mut tx, period, rules, &report, Some(auth.user_id.as_uuid())).await?;
        tx.commit().await.map_err(ApiError::internal)?;
        Some(id)
    };
    let results = report
        .outcomes
        .iter()
        .map(|o| ResultView {
            status: o.status.as_str().to_owned(),
            exceptions: o.exceptions.iter().map(|e| e.as_str().to_owned()).collect(),
            order_id: o.order_id.map(|i| RampOrderId::from_uuid(i).to_string()),
            bank_line_id: o.bank_line_id.map(|i| BankLineId::from_uuid(i).to_string()),
            observation_id: o.transfer_id.map(|t| t.to_string()),
            confidence: o.confidence,
            detail: o.detail.clone(),
        })
        .collect();
    let view = RunView {
        id: id.map(|i| RunId::from_uuid(i).to_string()),
        from: body.from,
        to: body.to,
        report_hash: hex::encode(report.hash),
        summary: serde_json::to_value(&report.summary).map_err(ApiError::internal)?,
        results,
    };
    let status = if body.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, ApiJson(view)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgingQuery {
    /// The day to age from (default: today).
    pub as_of: Option<chrono::NaiveDate>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgingRow {
    pub currency: String,
    /// `current` (not yet due), `1-30`, `31-60`, `61-90` or `90+` days past due.
    pub bucket: String,
    pub invoices: i64,
    /// Total minus what was paid (final), at the currency's scale.
    pub outstanding: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Aging {
    pub as_of: chrono::NaiveDate,
    pub rows: Vec<AgingRow>,
}

async fn aging(state: &AppState, as_of: Option<chrono::NaiveDate>) -> Result<Aging, ApiError> {
    let as_of = as_of.unwrap_or_else(|| state.clock().now().date_naive());
    // Open, partially paid and expired (overdue, still unpaid) invoices, by days past due.
    let rows = sqlx::query!(
        r#"SELECT currency AS "currency!", bucket AS "bucket!", count(*) AS "invoices!",
                  sum(total - amount_paid) AS "outstanding!"
             FROM (SELECT currency, total, amount_paid,
                          CASE WHEN due_at::date >= $1 THEN 'current'
                               WHEN $1 - due_at::date <= 30 THEN '1-30'
                               WHEN $1 - due_at::date <= 60 THEN '31-60'
                               WHEN $1 - due_at::date <= 90 THEN '61-90'
                               ELSE '90+' END AS bucket
                     FROM invoicing.invoices
                    WHERE status IN ('open', 'partially_paid', 'expired') AND total > amount_paid
                      AND finalized_at::date <= $1) i
            GROUP BY currency, bucket
            ORDER BY currency, array_position(ARRAY['current', '1-30', '31-60', '61-90', '90+'], bucket)"#,
        as_of,
    )
    .fetch_all(state.pool())
    .await
    .map_err(ApiError::from)?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let scale = state.registry().get(&r.currency).map(|a| a.scale).unwrap_or(6);
            let mut outstanding = r.outstanding;
            outstanding.rescale(scale);
            AgingRow {
                currency: r.currency,
                bucket: r.bucket,
                invoices: r.invoices,
                outstanding: outstanding.to_string(),
            }
        })
        .collect();
    Ok(Aging { as_of, rows })
}

/// Receivables aging: open invoices' outstanding amounts by currency and days past due.
#[utoipa::path(get, path = "/v1/treasury/reconciliation/receivables-aging", tag = "reconciliation",
    security(("console_session" = [])), params(AgingQuery), responses((status = 200, body = Aging)))]
pub async fn receivables_aging(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiQuery(q): ApiQuery<AgingQuery>,
) -> Result<ApiJson<Aging>, ApiError> {
    auth.require_any(&TREASURY)?;
    Ok(ApiJson(aging(&state, q.as_of).await?))
}

/// Receivables aging as CSV.
#[utoipa::path(get, path = "/v1/treasury/reconciliation/receivables-aging.csv", tag = "reconciliation",
    security(("console_session" = [])), params(AgingQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn receivables_aging_csv(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiQuery(q): ApiQuery<AgingQuery>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let aging = aging(&state, q.as_of).await?;
    let mut out = String::new();
    corridor_platform::csv::push_row(
        &mut out,
        &["as_of", "currency", "bucket", "invoices", "outstanding"].map(String::from),
    );
    for r in aging.rows {
        corridor_platform::csv::push_row(
            &mut out,
            &[
                aging.as_of.to_string(),
                r.currency,
                r.bucket,
                r.invoices.to_string(),
                r.outstanding,
            ],
        );
    }
    Ok(corridor_platform::csv::response(
        "attachment; filename=\"receivables-aging.csv\"",
        false,
        out,
    ))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ManualKind {
    /// Pair the order with this bank line or chain transfer in every later run.
    Match,
    /// Never pair the order with it.
    Unmatch,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewManualDecision {
    pub kind: ManualKind,
    /// `ramp_...`
    pub order_id: String,
    /// `bl_...`; exactly one of bank_line_id and observation_id.
    #[serde(default)]
    pub bank_line_id: Option<String>,
    /// The chain observation's id (a UUID, as runs report it).
    #[serde(default)]
    pub observation_id: Option<Uuid>,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ManualDecisionView {
    pub id: String,
    pub kind: String,
    pub order_id: String,
    pub bank_line_id: Option<String>,
    pub observation_id: Option<Uuid>,
    pub reason: String,
    pub decided_at: DateTime<Utc>,
}

/// Match or unmatch by hand, with a reason; later runs follow the latest decision for each pair.
/// Every decision is audited.
#[utoipa::path(post, path = "/v1/treasury/reconciliation/manual-decisions", tag = "reconciliation",
    security(("console_session" = [])), request_body = NewManualDecision,
    responses((status = 201, body = ManualDecisionView), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_manual_decision(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    ApiJson(body): ApiJson<NewManualDecision>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let order = RampOrderId::parse(&body.order_id)
        .map_err(|e| ApiError::unprocessable("invalid_id", format!("order_id: {e}")))?
        .as_uuid();
    let line = body
        .bank_line_id
        .as_deref()
        .map(|l| {
            BankLineId::parse(l)
                .map(|i| i.as_uuid())
                .map_err(|e| ApiError::unprocessable("invalid_id", format!("bank_line_id: {e}")))
        })
        .transpose()?;
    if line.is_some() == body.observation_id.is_some() {
        return Err(ApiError::unprocessable(
            "invalid_decision",
            "give exactly one of bank_line_id and observation_id",
        ));
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::unprocessable(
            "invalid_reason",
            "reason must be 1-500 characters",
        ));
    }
    let kind = match body.kind {
        ManualKind::Match => "match",
        ManualKind::Unmatch => "unmatch",
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM reconciliation.ramp_orders WHERE id = $1)
              AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM reconciliation.bank_lines WHERE id = $2 AND duplicate_of IS NULL))
              AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM chain.observations WHERE id = $3 AND kind = 'erc20_transfer'))
              AS "exists!""#,
        order,
        line,
        body.observation_id,
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(ApiError::from)?;
    if !exists {
        return Err(ApiError::unprocessable(
            "unknown_reference",
            "the order, bank line (not a duplicate) or chain transfer does not exist",
        ));
    }
    let id = Uuid::now_v7();
    let decided_at = sqlx::query_scalar!(
        r#"INSERT INTO reconciliation.manual_decisions (id, kind, order_id, bank_line_id, observation_id, reason, decided_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING decided_at"#,
        id,
        kind,
        order,
        line,
        body.observation_id,
        reason,
        auth.user_id.as_uuid(),
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(ApiError::from)?;
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        &format!("reconciliation.manual_{kind}"),
        &body.order_id,
        &serde_json::json!({ "bank_line_id": body.bank_line_id, "observation_id": body.observation_id, "reason": reason }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    let view = ManualDecisionView {
        id: ManualDecisionId::from_uuid(id).to_string(),
        kind: kind.to_owned(),
        order_id: body.order_id.clone(),
        bank_line_id: body.bank_line_id.clone(),
        observation_id: body.observation_id,
        reason: reason.to_owned(),
        decided_at,
    };
    Ok((StatusCode::CREATED, ApiJson(view)).into_response())
}

/// Store the column mapping this bank account's CSV exports are read with (replaces any
/// earlier one; audited).
#[utoipa::path(put, path = "/v1/treasury/reconciliation/bank-accounts/{id}/csv-mapping", tag = "reconciliation",
    security(("console_session" = [])), request_body = crate::statements::csv::Mapping,
    params(("id" = String, Path, description = "bacc_...")),
    responses((status = 200, body = crate::statements::csv::Mapping), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn set_csv_mapping(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    axum::extract::Path(id): axum::extract::Path<String>,
    ApiJson(mapping): ApiJson<crate::statements::csv::Mapping>,
) -> Result<ApiJson<crate::statements::csv::Mapping>, ApiError> {
    auth.require_any(&TREASURY)?;
    let account = parse_bank_account_id(&id)?;
    mapping
        .check()
        .map_err(|d| ApiError::unprocessable("invalid_csv_mapping", d))?;
    let json = serde_json::to_value(&mapping).map_err(ApiError::internal)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let stored = sqlx::query_scalar!(
        r#"INSERT INTO reconciliation.csv_mappings (bank_account_id, mapping, updated_by)
           SELECT id, $2, $3 FROM reconciliation.bank_accounts WHERE id = $1
           ON CONFLICT (bank_account_id) DO UPDATE SET mapping = $2, updated_by = $3, updated_at = now()
           RETURNING bank_account_id"#,
        account,
        json,
        auth.user_id.as_uuid(),
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(ApiError::from)?;
    if stored.is_none() {
        return Err(ApiError::not_found("bank account"));
    }
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "reconciliation.csv_mapping_set",
        &id,
        &json,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(mapping))
}

fn parse_run_id(raw: &str) -> Result<Uuid, ApiError> {
    RunId::parse(raw)
        .map(|id| id.as_uuid())
        .map_err(|_| ApiError::not_found("reconciliation run"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Only exceptions currently assigned to this console user (`usr_...`).
    pub assignee: Option<String>,
    pub limit: Option<u32>,
    /// The `seq` of the last item of the previous page.
    pub cursor: Option<i32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub seq: i32,
    pub status: String,
    pub exceptions: Vec<String>,
    pub order_id: Option<String>,
    pub bank_line_id: Option<String>,
    pub observation_id: Option<Uuid>,
    pub detail: String,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub assigned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuePage {
    pub data: Vec<QueueItem>,
    pub has_more: bool,
    pub next_cursor: Option<i32>,
}

/// A run's exceptions queue in result order, each with its current assignment.
#[utoipa::path(get, path = "/v1/treasury/reconciliation/runs/{id}/exceptions", tag = "reconciliation",
    security(("console_session" = [])), params(("id" = String, Path, description = "rrun_..."), QueueQuery),
    responses((status = 200, body = QueuePage), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn list_exceptions(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    axum::extract::Path(id): axum::extract::Path<String>,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<ApiJson<QueuePage>, ApiError> {
    auth.require_any(&TREASURY)?;
    let run = parse_run_id(&id)?;
    let limit = corridor_platform::pagination::limit(q.limit)?;
    let assignee = q
        .assignee
        .as_deref()
        .map(|a| {
            corridor_domain::ids::ConsoleUserId::parse(a)
                .map(|u| u.as_uuid())
                .map_err(|e| ApiError::bad_request("invalid_assignee", e.to_string()))
        })
        .transpose()?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let exists = sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM reconciliation.runs WHERE id = $1) AS \"e!\"",
        run
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(ApiError::from)?;
    if !exists {
        return Err(ApiError::not_found("reconciliation run"));
    }
    let mut rows = sqlx::query!(
        r#"SELECT r.seq, r.status, r.exceptions, r.order_id, r.bank_line_id, r.observation_id, r.detail,
                  a.assignee AS "assignee?", a.note AS "note?", a.assigned_at AS "assigned_at?"
             FROM reconciliation.results r
             LEFT JOIN LATERAL (SELECT assignee, note, assigned_at FROM reconciliation.assignments x
                                 WHERE x.run_id = r.run_id AND x.seq = r.seq
                                 ORDER BY assigned_at DESC, id DESC LIMIT 1) a ON true
            WHERE r.run_id = $1 AND cardinality(r.exceptions) > 0 AND r.seq > $2
              AND ($3::uuid IS NULL OR a.assignee = $3)
            ORDER BY r.seq LIMIT $4"#,
        run,
        q.cursor.unwrap_or(-1),
        assignee,
        i64::from(limit) + 1,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(ApiError::from)?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if has_more { rows.last().map(|r| r.seq) } else { None };
    let data = rows
        .into_iter()
        .map(|r| QueueItem {
            seq: r.seq,
            status: r.status,
            exceptions: r.exceptions,
            order_id: r.order_id.map(|i| RampOrderId::from_uuid(i).to_string()),
            bank_line_id: r.bank_line_id.map(|i| BankLineId::from_uuid(i).to_string()),
            observation_id: r.observation_id,
            detail: r.detail,
            assignee: r
                .assignee
                .map(|a| corridor_domain::ids::ConsoleUserId::from_uuid(a).to_string()),
            note: r.note,
            assigned_at: r.assigned_at,
        })
        .collect();
    Ok(ApiJson(QueuePage {
        data,
        has_more,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssignment {
    /// A treasury or platform-admin console user (`usr_...`).
    pub assignee: String,
    #[serde(default)]
    pub note: String,
}

/// Assign one of a run's exceptions to a person (the latest assignment is the current one;
/// audited).
#[utoipa::path(post, path = "/v1/treasury/reconciliation/runs/{id}/exceptions/{seq}/assignment", tag = "reconciliation",
    security(("console_session" = [])), request_body = NewAssignment,
    params(("id" = String, Path, description = "rrun_..."), ("seq" = i32, Path, description = "the result's seq")),
    responses((status = 201, description = "assigned"), (status = 404, body = corridor_platform::error::Problem),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn assign_exception(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    axum::extract::Path((id, seq)): axum::extract::Path<(String, i32)>,
    ApiJson(body): ApiJson<NewAssignment>,
) -> Result<StatusCode, ApiError> {
    auth.require_any(&TREASURY)?;
    let run = parse_run_id(&id)?;
    let assignee = corridor_domain::ids::ConsoleUserId::parse(&body.assignee)
        .map_err(|e| ApiError::unprocessable("invalid_assignee", e.to_string()))?;
    if body.note.chars().count() > 500 {
        return Err(ApiError::unprocessable(
            "invalid_note",
            "note must be at most 500 characters",
        ));
    }
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let found = sqlx::query!(
        r#"SELECT cardinality(r.exceptions) > 0 AS "is_exception!",
                  EXISTS (SELECT 1 FROM platform.console_users u
                           WHERE u.id = $3 AND u.disabled_at IS NULL AND u.role IN ('treasury', 'platform_admin')) AS "assignable!"
             FROM reconciliation.results r WHERE r.run_id = $1 AND r.seq = $2"#,
        run,
        seq,
        assignee.as_uuid(),
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(ApiError::from)?
    .ok_or_else(|| ApiError::not_found("reconciliation result"))?;
    if !found.is_exception {
        return Err(ApiError::unprocessable(
            "not_an_exception",
            "this result has no exception to work on",
        ));
    }
    if !found.assignable {
        return Err(ApiError::unprocessable(
            "invalid_assignee",
            "the assignee must be an active treasury or platform-admin user",
        ));
    }
    sqlx::query!(
        r#"INSERT INTO reconciliation.assignments (id, run_id, seq, assignee, note, assigned_by)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        Uuid::now_v7(),
        run,
        seq,
        assignee.as_uuid(),
        body.note.trim(),
        auth.user_id.as_uuid(),
    )
    .execute(&mut *tx)
    .await
    .map_err(ApiError::from)?;
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "reconciliation.exception_assigned",
        &format!("{id}/{seq}"),
        &serde_json::json!({ "assignee": body.assignee, "note": body.note.trim() }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(StatusCode::CREATED)
}

/// A stored run's results as CSV (every result, in order).
#[utoipa::path(get, path = "/v1/treasury/reconciliation/runs/{id}/results.csv", tag = "reconciliation",
    security(("console_session" = [])), params(("id" = String, Path, description = "rrun_...")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn export_results(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    auth.require_any(&TREASURY)?;
    let run = parse_run_id(&id)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let head = sqlx::query!(
        "SELECT period_from, period_to, report_hash FROM reconciliation.runs WHERE id = $1",
        run
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(ApiError::from)?
    .ok_or_else(|| ApiError::not_found("reconciliation run"))?;
    let rows = sqlx::query!(
        r#"SELECT seq, status, array_to_string(exceptions, ' ') AS "exceptions!", order_id, bank_line_id,
                  observation_id, confidence, detail
             FROM reconciliation.results WHERE run_id = $1 ORDER BY seq LIMIT $2"#,
        run,
        EXPORT_ROWS_MAX + 1,
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(ApiError::from)?;
    let truncated = rows.len() as i64 > EXPORT_ROWS_MAX;
    let mut out = String::new();
    let push = |out: &mut String, f: &[String]| corridor_platform::csv::push_row(out, f);
    push(
        &mut out,
        &[
            "run",
            "period_from",
            "period_to",
            "report_hash",
            "seq",
            "status",
            "exceptions",
            "order_id",
            "bank_line_id",
            "observation_id",
            "confidence",
            "detail",
        ]
        .map(String::from),
    );
    let hash = hex::encode(&head.report_hash);
    for r in rows.into_iter().take(EXPORT_ROWS_MAX as usize) {
        push(
            &mut out,
            &[
                id.clone(),
                head.period_from.to_string(),
                head.period_to.to_string(),
                hash.clone(),
                r.seq.to_string(),
                r.status,
                r.exceptions,
                r.order_id
                    .map(|i| RampOrderId::from_uuid(i).to_string())
                    .unwrap_or_default(),
                r.bank_line_id
                    .map(|i| BankLineId::from_uuid(i).to_string())
                    .unwrap_or_default(),
                r.observation_id.map(|i| i.to_string()).unwrap_or_default(),
                r.confidence.to_string(),
                r.detail,
            ],
        );
    }
    Ok(corridor_platform::csv::response(
        "attachment; filename=\"reconciliation-run.csv\"",
        truncated,
        out,
    ))
}

/// Rows in one CSV export.
const EXPORT_ROWS_MAX: i64 = 1_000_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// The adapter that reads this partner's reports; today `csv_report`.
    pub kind: String,
    /// The bank account (`bacc_...`) the partner's fiat moves through.
    pub bank_account_id: String,
}

/// Configure a ramp partner (creates or replaces; audited).
#[utoipa::path(put, path = "/v1/treasury/reconciliation/partners/{name}", tag = "reconciliation",
    security(("console_session" = [])), request_body = PartnerConfig,
    params(("name" = String, Path, description = "the partner's name")),
    responses((status = 204, description = "configured"), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn set_partner(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    axum::extract::Path(name): axum::extract::Path<String>,
    ApiJson(body): ApiJson<PartnerConfig>,
) -> Result<StatusCode, ApiError> {
    auth.require_any(&TREASURY)?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::unprocessable(
            "invalid_partner",
            "a partner name is 1-100 characters",
        ));
    }
    if crate::partners::adapter(&body.kind).is_none() {
        return Err(ApiError::unprocessable(
            "unknown_partner_kind",
            format!("{:?} is not a partner adapter; use csv_report", body.kind),
        ));
    }
    let account = parse_bank_account_id(&body.bank_account_id)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let done = sqlx::query!(
        r#"INSERT INTO reconciliation.partners (name, kind, bank_account_id)
           SELECT $1, $2, id FROM reconciliation.bank_accounts WHERE id = $3
           ON CONFLICT (name) DO UPDATE SET kind = $2, bank_account_id = $3, updated_at = now()"#,
        name,
        body.kind,
        account,
    )
    .execute(&mut *tx)
    .await
    .map_err(ApiError::from)?;
    if done.rows_affected() == 0 {
        return Err(ApiError::unprocessable("unknown_bank_account", "no such bank account"));
    }
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "reconciliation.partner_set",
        &name,
        &serde_json::json!({ "kind": body.kind, "bank_account_id": body.bank_account_id }),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportResult {
    pub rows: usize,
    pub recorded: usize,
    /// Orders the partner reported before with the same content.
    pub already_present: usize,
}

/// Import a partner's report as ramp orders, through the partner's adapter. All or nothing:
/// a bad row, or a reference reported before with other amounts, is refused naming the file and
/// line, and nothing is recorded.
#[utoipa::path(post, path = "/v1/treasury/reconciliation/partners/{name}/reports", tag = "reconciliation",
    security(("console_session" = [])), params(("name" = String, Path, description = "the partner's name"), ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ReportResult), (status = 404, body = corridor_platform::error::Problem),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn import_partner_report(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    axum::extract::Path(name): axum::extract::Path<String>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<ApiJson<ReportResult>, ApiError> {
    auth.require_any(&TREASURY)?;
    let file = q.file_name.trim();
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let partner = sqlx::query!(
        "SELECT kind, bank_account_id FROM reconciliation.partners WHERE name = $1",
        name
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(ApiError::from)?
    .ok_or_else(|| ApiError::not_found("ramp partner"))?;
    let adapter = crate::partners::adapter(&partner.kind)
        .ok_or_else(|| ApiError::internal(format!("partner {name} has unknown kind {}", partner.kind)))?;
    let orders = adapter
        .orders(&body)
        .map_err(|e| ApiError::unprocessable("invalid_partner_report", format!("{file}: {e}")))?;
    let (mut recorded, mut already_present) = (0, 0);
    for (line, o) in &orders {
        let order = NewRampOrder {
            direction: if o.direction == "on" {
                RampDirection::On
            } else {
                RampDirection::Off
            },
            partner: name.clone(),
            bank_account_id: BankAccountId::from_uuid(partner.bank_account_id).to_string(),
            fiat_amount: o.fiat_amount.clone(),
            asset: o.asset.clone(),
            chain_id: o.chain_id,
            token_amount: o.token_amount.clone(),
            chain_address: o.chain_address.clone(),
            fee: o.fee.clone(),
            fx_rate: o.fx_rate.clone(),
            reference: o.reference.clone(),
            expected_on: o.expected_on,
        };
        match insert_ramp_order(&mut tx, &state, &order, auth.user_id.as_uuid()).await {
            Ok(Recorded::New(_)) => recorded += 1,
            Ok(Recorded::Same(_)) => already_present += 1,
            Err(mut e) => {
                e.detail = format!("{file}: line {line}: {}; nothing was recorded", e.detail);
                return Err(e);
            }
        }
    }
    if recorded > 0 {
        corridor_store::audit::append(
            &mut tx,
            &auth.user_id.to_string(),
            "reconciliation.partner_report_imported",
            &name,
            &serde_json::json!({ "file_name": file, "rows": orders.len(), "recorded": recorded }),
        )
        .await?;
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(ReportResult {
        rows: orders.len(),
        recorded,
        already_present,
    }))
}
