//! The hosted pay page: a public, unguessable URL (`/pay/<token>`) that is also the rendered
//! invoice the merchant sends. Plain HTML that works with JavaScript off: amount, token, chain,
//! contract and reference for each payment option, an EIP-681 payment URI, and a refresh every
//! 15 seconds while payment is awaited, so the status is live without a script.

use crate::{api::InvoiceView, db};
use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use corridor_domain::{AssetRegistry, EvmAddress, Money};
use corridor_platform::{ApiError, AppState};
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// EIP-681 URI calling `InvoicePayments.pay(token, amount, reference)` on `chain_id`. A wallet
/// that reads it still needs the token approved for the contract first.
pub fn eip681_pay_uri(
    contract: &EvmAddress,
    chain_id: u64,
    token: &EvmAddress,
    units: &str,
    reference: &str,
) -> String {
    format!("ethereum:{contract}@{chain_id}/pay?address={token}&uint256={units}&bytes32={reference}")
}

/// The payment URI as an inline SVG QR code (no script, no external image).
pub fn qr_svg(data: &str) -> Option<String> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .build();
    // Drop the XML prolog: the SVG is embedded in HTML.
    Some(svg.find("<svg").map_or(svg.clone(), |i| svg[i..].to_owned()))
}

struct Option_ {
    chain_id: u64,
    asset: String,
    token: Option<EvmAddress>,
    contract: Option<EvmAddress>,
    units: Option<String>,
}

fn option_rows(registry: &AssetRegistry, view: &InvoiceView, contracts: &[(i64, String)]) -> Vec<Option_> {
    view.payment_options
        .iter()
        .map(|p| {
            let deployment = registry
                .get(&p.asset)
                .ok()
                .and_then(|a| registry.deployment(&a.code, p.chain_id).ok());
            let units = deployment.and_then(|d| {
                let asset = registry.get(&p.asset).ok()?;
                let due = Money::parse(&view.amount_due, asset).ok()?;
                due.to_base_units(d.decimals).ok().map(|u| u.to_string())
            });
            Option_ {
                chain_id: p.chain_id,
                asset: p.asset.clone(),
                token: deployment.map(|d| d.token),
                contract: contracts
                    .iter()
                    .find(|(c, _)| *c == p.chain_id as i64)
                    .and_then(|(_, a)| EvmAddress::parse(a).ok()),
                units,
            }
        })
        .collect()
}

fn render(merchant: &str, view: &InvoiceView, options: &[Option_]) -> String {
    let awaiting = matches!(view.status.as_str(), "open" | "partially_paid" | "expired");
    let mut h = String::with_capacity(8 * 1024);
    let title = format!(
        "Invoice {} from {}",
        view.number.map(|n| n.to_string()).unwrap_or_default(),
        merchant
    );
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">{refresh}<title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#111}}\
         table{{border-collapse:collapse;width:100%}}td,th{{padding:.3rem;border-bottom:1px solid #ddd;text-align:left}}\
         .num{{text-align:right}}code{{word-break:break-all}}.status{{font-weight:bold}}</style></head><body>",
        refresh = if awaiting {
            "<meta http-equiv=\"refresh\" content=\"15\">"
        } else {
            ""
        },
        title = escape(&title),
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p>Billed to {} ({}) &middot; due {}</p><p>Status: <span class=\"status\" id=\"status\">{}</span>{}</p>",
        escape(&title),
        escape(&view.buyer.name),
        escape(&view.buyer.country),
        view.due_at.format("%Y-%m-%d %H:%M UTC"),
        escape(&view.status.replace('_', " ")),
        if view.paid_late {
            " (paid after the due date)"
        } else {
            ""
        },
    );
    h.push_str("<table><tr><th>Item</th><th class=\"num\">Qty</th><th class=\"num\">Unit price</th><th class=\"num\">Tax</th><th class=\"num\">Amount</th></tr>");
    for l in &view.line_items {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&l.description),
            escape(&l.quantity),
            escape(&l.unit_price),
            escape(&l.tax),
            escape(&l.amount)
        );
    }
    let cur = escape(&view.currency);
    let _ = write!(
        h,
        "<tr><td colspan=\"4\">Subtotal</td><td class=\"num\">{}</td></tr><tr><td colspan=\"4\">Tax</td><td class=\"num\">{}</td></tr>\
         <tr><th colspan=\"4\">Total ({cur})</th><th class=\"num\">{}</th></tr>\
         <tr><td colspan=\"4\">Paid (final)</td><td class=\"num\">{}</td></tr>\
         <tr><td colspan=\"4\">Detected, awaiting finality</td><td class=\"num\">{}</td></tr>\
         <tr><th colspan=\"4\">Amount due ({cur})</th><th class=\"num\" id=\"amount-due\">{}</th></tr></table>",
        view.subtotal, view.tax_total, view.total, view.amount_paid, view.amount_detected, view.amount_due
    );
    if let Some(memo) = &view.memo {
        let _ = write!(h, "<p>{}</p>", escape(memo));
    }
    let reference = view.payment_reference.clone().unwrap_or_default();
    if view.status == "void" {
        h.push_str("<p>This invoice was voided and cannot be paid.</p>");
    } else if awaiting {
        let _ = write!(
            h,
            "<h2>How to pay</h2><p>Call <code>pay(token, amount, reference)</code> on the InvoicePayments contract of your chain, \
             after approving the token for it, or use <code>payWithPermit</code> / <code>payWithAuthorization</code>. \
             The reference ties the payment to this invoice: <code id=\"reference\">{}</code></p>",
            escape(&reference)
        );
        for o in options {
            let _ = write!(h, "<h3>{} on chain {}</h3><ul>", escape(&o.asset), o.chain_id);
            match (&o.token, &o.contract, &o.units) {
                (Some(token), Some(contract), Some(units)) => {
                    let uri = eip681_pay_uri(contract, o.chain_id, token, units, &reference);
                    let _ = write!(
                        h,
                        "<li>Amount: {} {} ({} base units)</li><li>Token: <code>{token}</code></li>\
                         <li>InvoicePayments contract: <code>{contract}</code></li>\
                         <li>Payment URI (EIP-681): <a href=\"{uri}\"><code class=\"eip681\">{uri}</code></a></li>\
                         <li class=\"qr\">{qr}</li>",
                        view.amount_due,
                        escape(&o.asset),
                        escape(units),
                        uri = escape(&uri),
                        qr = qr_svg(&uri).unwrap_or_default()
                    );
                }
                _ => h.push_str("<li>Not available on this gateway right now.</li>"),
            }
            h.push_str("</ul>");
        }
    } else {
        h.push_str("<p>Thank you: this invoice is paid.</p>");
    }
    h.push_str("</body></html>");
    h
}

/// The public pay page of a finalized invoice. Unknown tokens and drafts are 404.
#[utoipa::path(get, path = "/pay/{token}", tag = "pay page",
    params(("token" = String, Path, description = "The invoice's pay-page token (from hosted_url)")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = corridor_platform::error::Problem)))]
pub async fn pay_page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    if token.len() != 32 || !token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::not_found("invoice"));
    }
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let row = db::by_page_token(&mut conn, &token)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("invoice"))?;
    let merchant: String = sqlx::query_scalar!("SELECT name FROM platform.merchants WHERE id = $1", row.merchant_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(ApiError::internal)?;
    let contracts = sqlx::query!(
        "SELECT chain_id, address FROM chain.watched_contracts WHERE kind = 'invoice_payments' ORDER BY chain_id, address"
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(ApiError::internal)?
    .into_iter()
    .map(|r| (r.chain_id, r.address))
    .collect::<Vec<_>>();
    let view = InvoiceView::from(row);
    let options = option_rows(state.registry(), &view, &contracts);
    let html = render(&merchant, &view, &options);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'",
            ),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_inline_svg() {
        let svg = qr_svg("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed@8453/pay").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn the_payment_uri_names_contract_chain_function_and_arguments() {
        let c = EvmAddress::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").unwrap();
        let t = EvmAddress::parse("0x52908400098527886e0f7030069857d2e4169ee7").unwrap();
        assert_eq!(
            eip681_pay_uri(&c, 8453, &t, "1500000", "0xab"),
            "ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed@8453/pay?address=0x52908400098527886E0F7030069857D2E4169EE7&uint256=1500000&bytes32=0xab"
        );
    }
}
