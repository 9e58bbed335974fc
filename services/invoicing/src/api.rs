//! The merchant's invoice API: create and replace drafts, finalize, void, read, list, export.

use crate::{
    db::{self, DraftFields, InvoiceRow, PaymentRow},
    model::{self, Buyer, InvoiceInput, LineItem, ValidInvoice},
    reference,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, Utc};
use corridor_domain::ids::{InvoiceId, MerchantId};
use corridor_platform::{
    ApiError, ApiJson, ApiQuery, AppState,
    auth::{MerchantAuth, Scope},
    idempotency::{self, Begin, IdempotentJson},
    pagination::{self, Page},
};
use corridor_store::{StoreError, outbox};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PaymentOptionView {
    pub chain_id: u64,
    pub asset: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvoiceView {
    #[schema(value_type = String, example = "inv_0190...")]
    pub id: InvoiceId,
    /// Given at finalization, per merchant, without gaps; absent on drafts.
    pub number: Option<i64>,
    /// draft, open, partially_paid, paid, overpaid, expired, void.
    pub status: String,
    pub currency: String,
    pub buyer: Buyer,
    pub line_items: Vec<LineItem>,
    pub payment_options: Vec<PaymentOptionView>,
    pub memo: Option<String>,
    pub due_at: DateTime<Utc>,
    pub subtotal: String,
    pub tax_total: String,
    pub total: String,
    /// Seen on chain, not yet final: shown, not yet credited.
    pub amount_detected: String,
    /// Final and credited to the merchant's balance.
    pub amount_paid: String,
    /// total - amount_paid, never below zero.
    pub amount_due: String,
    /// amount_paid - total when the buyer paid more; refund it with a payout if needed.
    pub amount_overpaid: String,
    /// The bytes32 to pass to InvoicePayments; shown once the invoice is finalized.
    pub payment_reference: Option<String>,
    /// The public pay page (path on this gateway); once finalized.
    pub hosted_url: Option<String>,
    /// A payment arrived after the due date.
    pub paid_late: bool,
    pub finalized_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<InvoiceRow> for InvoiceView {
    fn from(r: InvoiceRow) -> Self {
        let scale = r.total.scale();
        let at_scale = |mut d: rust_decimal::Decimal| {
            d.rescale(scale);
            d.to_string()
        };
        let zero = rust_decimal::Decimal::ZERO;
        let finalized = r.status != "draft";
        Self {
            id: InvoiceId::from_uuid(r.id),
            number: r.number,
            status: r.status,
            currency: r.currency,
            // Written by this crate from these types; a row that does not parse is corrupt.
            buyer: serde_json::from_value(r.buyer).unwrap_or_else(|_| Buyer {
                name: String::new(),
                email: String::new(),
                country: String::new(),
                wallet: None,
            }),
            line_items: serde_json::from_value(r.line_items).unwrap_or_default(),
            payment_options: serde_json::from_value(r.payment_options).unwrap_or_default(),
            memo: r.memo,
            due_at: r.due_at,
            subtotal: at_scale(r.subtotal),
            tax_total: at_scale(r.tax_total),
            total: at_scale(r.total),
            amount_detected: at_scale(r.amount_detected),
            amount_paid: at_scale(r.amount_paid),
            amount_due: at_scale((r.total - r.amount_paid).max(zero)),
            amount_overpaid: at_scale((r.amount_paid - r.total).max(zero)),
            payment_reference: finalized.then_some(r.payment_ref),
            hosted_url: finalized.then(|| format!("/pay/{}", r.page_token)),
            paid_late: r.paid_late,
            finalized_at: r.finalized_at,
            paid_at: r.paid_at,
            voided_at: r.voided_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: String,
    #[schema(value_type = String)]
    pub invoice_id: InvoiceId,
    pub chain_id: i64,
    pub tx_hash: String,
    pub payer: String,
    pub asset: String,
    pub amount: String,
    /// Detected after the due date.
    pub late: bool,
    /// incoming (seen, not final), credited (final), reversed (its block was orphaned first).
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PaymentRow> for PaymentView {
    fn from(r: PaymentRow) -> Self {
        Self {
            id: format!("ipay_{}", r.id.simple()),
            invoice_id: InvoiceId::from_uuid(r.invoice_id),
            chain_id: r.chain_id,
            tx_hash: r.tx_hash,
            payer: r.payer,
            asset: r.asset,
            amount: r.amount.to_string(),
            late: r.late,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(crate) async fn emit<T: Serialize>(
    conn: &mut PgConnection,
    merchant: uuid::Uuid,
    event: &str,
    payload: &T,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    outbox::enqueue(conn, Some(MerchantId::from_uuid(merchant)), event, &payload).await?;
    Ok(())
}

fn fields(v: &ValidInvoice) -> Result<DraftFields<'_>, ApiError> {
    let options: Vec<PaymentOptionView> = v
        .payment_options
        .iter()
        .map(|(chain_id, asset)| PaymentOptionView {
            chain_id: *chain_id,
            asset: asset.clone(),
        })
        .collect();
    Ok(DraftFields {
        currency: v.currency.code.as_str(),
        buyer: serde_json::to_value(&v.buyer).map_err(ApiError::internal)?,
        line_items: serde_json::to_value(&v.line_items).map_err(ApiError::internal)?,
        payment_options: serde_json::to_value(options).map_err(ApiError::internal)?,
        memo: v.memo.as_deref(),
        due_at: v.due_at,
        subtotal: v.subtotal.amount(),
        tax_total: v.tax_total.amount(),
        total: v.total.amount(),
    })
}

/// Stores a validated draft with its reference and page token, and sends `invoice.created`; a
/// recurring invoice also records its schedule and period.
pub(crate) async fn insert_draft(
    conn: &mut PgConnection,
    secret: &[u8],
    merchant: MerchantId,
    valid: &ValidInvoice,
    period: Option<(uuid::Uuid, DateTime<Utc>)>,
) -> Result<InvoiceRow, ApiError> {
    let id = InvoiceId::new();
    let mut row = db::insert_draft(
        conn,
        id,
        merchant,
        &fields(valid)?,
        &reference::payment_ref(secret, id),
        &reference::page_token(secret, id),
    )
    .await
    .map_err(ApiError::internal)?;
    if let Some((schedule, start)) = period {
        db::set_period(conn, row.id, schedule, start)
            .await
            .map_err(ApiError::internal)?;
        row.updated_at = Utc::now();
    }
    emit(
        conn,
        merchant.as_uuid(),
        "invoice.created",
        &InvoiceView::from(row.clone()),
    )
    .await?;
    Ok(row)
}

/// Gives a locked draft the merchant's next number, opens it, and sends `invoice.finalized`.
pub(crate) async fn finalize_draft(conn: &mut PgConnection, draft: InvoiceRow) -> Result<InvoiceView, StoreError> {
    let number = db::next_number(conn, draft.merchant_id).await?;
    let row = db::set_finalized(conn, draft.id, number).await?;
    let view = InvoiceView::from(row);
    emit(conn, draft.merchant_id, "invoice.finalized", &view).await?;
    Ok(view)
}

fn not_found() -> ApiError {
    ApiError::not_found("invoice")
}

/// The merchant's invoice, locked for the transaction; another merchant's is not found.
async fn lock_own(conn: &mut PgConnection, id: InvoiceId, merchant: MerchantId) -> Result<InvoiceRow, ApiError> {
    db::lock(conn, id.as_uuid(), Some(merchant))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)
}

fn parse_id(raw: &str) -> Result<InvoiceId, ApiError> {
    InvoiceId::parse(raw).map_err(|_| not_found())
}

/// Create a draft invoice. Requires an `Idempotency-Key`. Totals are computed from the line
/// items (quantity x unit price, tax per line, each rounded half away from zero to the
/// currency's decimals); send `expected_total` to have a disagreement refused.
#[utoipa::path(post, path = "/v1/invoices", tag = "invoices", request_body = InvoiceInput,
    security(("api_key" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per intended invoice")),
    responses((status = 201, body = InvoiceView), (status = 400, body = corridor_platform::error::Problem),
              (status = 422, body = corridor_platform::error::Problem)))]
pub async fn create_invoice(
    State(state): State<AppState>,
    auth: MerchantAuth,
    req: IdempotentJson<InvoiceInput>,
) -> Result<Response, ApiError> {
    auth.require(Scope::InvoicesWrite)?;
    let IdempotentJson { key, body } = req;
    let valid = model::validate(state.registry(), body)?;
    let claimed = match idempotency::begin(&state, auth.merchant_id, &key).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Proceed(claimed) => claimed,
    };
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let outcome = async {
        let secret = state.config().invoices.secret.expose();
        let row = insert_draft(&mut tx, secret, auth.merchant_id, &valid, None).await?;
        Ok((StatusCode::CREATED, InvoiceView::from(row)))
    }
    .await;
    claimed.finish(tx, outcome).await
}

/// Replace a draft's fields (the whole invoice body, as at creation). Only drafts change;
/// a finalized invoice is a document the buyer may already hold (409 `invoice_not_draft`).
#[utoipa::path(put, path = "/v1/invoices/{id}", tag = "invoices", request_body = InvoiceInput,
    security(("api_key" = [])), params(("id" = String, Path, description = "inv_...")),
    responses((status = 200, body = InvoiceView), (status = 404, body = corridor_platform::error::Problem),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn update_invoice(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvoiceInput>,
) -> Result<ApiJson<InvoiceView>, ApiError> {
    auth.require(Scope::InvoicesWrite)?;
    let id = parse_id(&id)?;
    let valid = model::validate(state.registry(), body)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let current = lock_own(&mut tx, id, auth.merchant_id).await?;
    if current.status != "draft" {
        return Err(ApiError::conflict(
            "invoice_not_draft",
            format!("only drafts can be edited; this invoice is {}", current.status),
        ));
    }
    let row = db::replace_draft(&mut tx, id, auth.merchant_id, &fields(&valid)?)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(row.into()))
}

/// Finalize a draft: it gets the merchant's next invoice number, its payment reference and pay
/// page go live, and `invoice.finalized` is sent. The due date must lie in the future.
/// Finalizing a finalized invoice answers with it unchanged, so a retry is safe.
#[utoipa::path(post, path = "/v1/invoices/{id}/finalize", tag = "invoices", security(("api_key" = [])),
    params(("id" = String, Path, description = "inv_...")),
    responses((status = 200, body = InvoiceView), (status = 404, body = corridor_platform::error::Problem),
              (status = 409, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn finalize_invoice(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<InvoiceView>, ApiError> {
    auth.require(Scope::InvoicesWrite)?;
    let id = parse_id(&id)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let current = lock_own(&mut tx, id, auth.merchant_id).await?;
    match current.status.as_str() {
        "draft" => {}
        "void" => {
            return Err(ApiError::conflict(
                "invoice_void",
                "a voided invoice cannot be finalized",
            ));
        }
        _ => return Ok(ApiJson(current.into())),
    }
    let now = state.clock().now();
    if current.due_at <= now {
        return Err(ApiError::unprocessable(
            "due_date_in_past",
            format!(
                "the due date {} has passed; set a later due_at on the draft, then finalize",
                current.due_at.to_rfc3339()
            ),
        ));
    }
    let view = finalize_draft(&mut tx, current).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(view))
}

/// Void an invoice nothing has been paid on (draft, open or expired). Voiding a void invoice
/// answers with it unchanged. An invoice with a detected or credited payment cannot be voided
/// (409 `invoice_has_payments`): the money is real and must be refunded or kept.
#[utoipa::path(post, path = "/v1/invoices/{id}/void", tag = "invoices", security(("api_key" = [])),
    params(("id" = String, Path, description = "inv_...")),
    responses((status = 200, body = InvoiceView), (status = 404, body = corridor_platform::error::Problem),
              (status = 409, body = corridor_platform::error::Problem)))]
pub async fn void_invoice(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<InvoiceView>, ApiError> {
    auth.require(Scope::InvoicesWrite)?;
    let id = parse_id(&id)?;
    let mut tx = state.pool().begin().await.map_err(ApiError::internal)?;
    let current = lock_own(&mut tx, id, auth.merchant_id).await?;
    if current.status == "void" {
        return Ok(ApiJson(current.into()));
    }
    if !current.amount_detected.is_zero() || !current.amount_paid.is_zero() {
        return Err(ApiError::conflict(
            "invoice_has_payments",
            format!(
                "this invoice has payments ({} detected, {} credited); it cannot be voided",
                current.amount_detected, current.amount_paid
            ),
        ));
    }
    let row = db::set_voided(&mut tx, current.id).await.map_err(ApiError::internal)?;
    let view = InvoiceView::from(row);
    emit(&mut tx, current.merchant_id, "invoice.voided", &view).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ApiJson(view))
}

/// One invoice of the caller's merchant.
#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "invoices", security(("api_key" = [])),
    params(("id" = String, Path, description = "inv_...")),
    responses((status = 200, body = InvoiceView), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn get_invoice(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<InvoiceView>, ApiError> {
    auth.require(Scope::InvoicesRead)?;
    let id = parse_id(&id)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::get(&mut conn, id, auth.merchant_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    Ok(ApiJson(row.into()))
}

/// The payments detected for one invoice, oldest first.
#[utoipa::path(get, path = "/v1/invoices/{id}/payments", tag = "invoices", security(("api_key" = [])),
    params(("id" = String, Path, description = "inv_...")),
    responses((status = 200, body = Vec<PaymentView>), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn list_invoice_payments(
    State(state): State<AppState>,
    auth: MerchantAuth,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<PaymentView>>, ApiError> {
    auth.require(Scope::InvoicesRead)?;
    let id = parse_id(&id)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    db::get(&mut conn, id, auth.merchant_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let rows = db::payments_of(&mut conn, id.as_uuid())
        .await
        .map_err(ApiError::internal)?;
    Ok(ApiJson(rows.into_iter().map(PaymentView::from).collect()))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    Draft,
    Open,
    PartiallyPaid,
    Paid,
    Overpaid,
    Expired,
    Void,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Draft => "draft",
            StatusFilter::Open => "open",
            StatusFilter::PartiallyPaid => "partially_paid",
            StatusFilter::Paid => "paid",
            StatusFilter::Overpaid => "overpaid",
            StatusFilter::Expired => "expired",
            StatusFilter::Void => "void",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListInvoices {
    pub status: Option<StatusFilter>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The merchant's invoices, newest first, with cursor pagination.
#[utoipa::path(get, path = "/v1/invoices", tag = "invoices", params(ListInvoices), security(("api_key" = [])),
    responses((status = 200, body = Page<InvoiceView>), (status = 400, body = corridor_platform::error::Problem)))]
pub async fn list_invoices(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<ListInvoices>,
) -> Result<ApiJson<Page<InvoiceView>>, ApiError> {
    auth.require(Scope::InvoicesRead)?;
    let limit = pagination::limit(q.limit)?;
    let cursor = pagination::cursor::<InvoiceId>(q.cursor.as_deref())?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = db::list(
        &mut conn,
        auth.merchant_id,
        q.status.map(StatusFilter::as_str),
        q.created_after,
        q.created_before,
        cursor,
        i64::from(limit) + 1,
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(ApiJson(Page::from_rows(
        rows,
        limit,
        |r| InvoiceId::from_uuid(r.id).to_string(),
        InvoiceView::from,
    )))
}

/// Rows one export may hold; narrow the window for more.
pub const EXPORT_ROWS_MAX: i64 = 50_000;

pub const EXPORT_COLUMNS: [&str; 15] = [
    "id",
    "number",
    "status",
    "currency",
    "buyer_name",
    "buyer_email",
    "buyer_country",
    "subtotal",
    "tax_total",
    "total",
    "amount_paid",
    "due_at",
    "paid_late",
    "finalized_at",
    "created_at",
];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportInvoices {
    pub status: Option<StatusFilter>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

/// The merchant's invoices as CSV (RFC 4180), newest first, at most 50,000 rows; the
/// `x-truncated: true` header says there were more.
#[utoipa::path(get, path = "/v1/invoices/export", tag = "invoices", params(ExportInvoices), security(("api_key" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = corridor_platform::error::Problem)))]
pub async fn export_invoices(
    State(state): State<AppState>,
    auth: MerchantAuth,
    ApiQuery(q): ApiQuery<ExportInvoices>,
) -> Result<Response, ApiError> {
    auth.require(Scope::InvoicesRead)?;
    corridor_platform::csv::check_window(q.created_after, q.created_before)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let mut rows = db::list(
        &mut conn,
        auth.merchant_id,
        q.status.map(StatusFilter::as_str),
        q.created_after,
        q.created_before,
        None,
        EXPORT_ROWS_MAX + 1,
    )
    .await
    .map_err(ApiError::internal)?;
    let truncated = rows.len() as i64 > EXPORT_ROWS_MAX;
    rows.truncate(EXPORT_ROWS_MAX as usize);
    let mut out = EXPORT_COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let v = InvoiceView::from(r);
        let fields = [
            v.id.to_string(),
            v.number.map(|n| n.to_string()).unwrap_or_default(),
            v.status,
            v.currency,
            v.buyer.name,
            v.buyer.email,
            v.buyer.country,
            v.subtotal,
            v.tax_total,
            v.total,
            v.amount_paid,
            v.due_at.to_rfc3339(),
            v.paid_late.to_string(),
            v.finalized_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            v.created_at.to_rfc3339(),
        ];
        corridor_platform::csv::push_row(&mut out, &fields);
    }
    Ok(corridor_platform::csv::response(
        "attachment; filename=\"invoices.csv\"",
        truncated,
        out,
    ))
}
