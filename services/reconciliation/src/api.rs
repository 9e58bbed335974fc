//! Treasury endpoints of reconciliation (console sessions, `treasury` or `platform_admin`): the
//! bank accounts reconciled, and bank statement imports.

use crate::import::{self, ImportError, Imported};
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
            id: format!("bacc_{}", r.id.simple()),
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
    .map_err(|e| ApiError::from(StoreError::from(e)))?
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
    .map_err(|e| ApiError::from(StoreError::from(e)))?;
    Ok(ApiJson(rows.into_iter().map(BankAccountView::from).collect()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The file's name, quoted in every error about it.
    pub file_name: String,
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
            file_id: format!("bsf_{}", i.file_id.simple()),
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
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let imported = import::import(&mut tx, file_name, &body, Some(auth.user_id.as_uuid())).await?;
    if imported.already_imported {
        return Ok((StatusCode::OK, ApiJson(ImportView::from(imported))).into_response());
    }
    corridor_store::audit::append(
        &mut tx,
        &auth.user_id.to_string(),
        "reconciliation.statement_imported",
        &format!("bsf_{}", imported.file_id.simple()),
        &serde_json::json!({ "file_name": file_name, "format": imported.format, "lines": imported.lines,
                             "duplicate_lines": imported.duplicate_lines }),
    )
    .await?;
    corridor_store::error::commit(tx).await?;
    Ok((StatusCode::CREATED, ApiJson(ImportView::from(imported))).into_response())
}
