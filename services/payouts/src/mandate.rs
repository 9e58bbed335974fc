//! Enforcing an API key's spending mandate (set through `PUT /v1/api-keys/{id}/mandate`).
//!
//! The check runs inside the payout's transaction, before the hold, with the mandate row locked:
//! two payouts of one key at the same moment are counted one after the other, so together they
//! cannot exceed the daily budget either.

use corridor_domain::{Money, ids::ApiKeyId};
use corridor_platform::ApiError;
use corridor_store::api_keys;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

fn refuse(code: &'static str, detail: String) -> ApiError {
    ApiError::forbidden(code, detail)
}

/// Refuses a payout debiting `debit` (amount plus fee) to `beneficiary` that the key's mandate
/// does not allow. Without a mandate, anything the scopes allow is allowed.
pub(crate) async fn enforce(
    conn: &mut PgConnection,
    key: ApiKeyId,
    debit: &Money,
    beneficiary: Uuid,
) -> Result<(), ApiError> {
    let Some(m) = api_keys::mandate(conn, key, true).await? else {
        return Ok(());
    };
    let now = chrono::Utc::now();
    if m.expires_at.is_some_and(|at| at <= now) {
        return Err(refuse(
            "mandate_expired",
            "this API key's spending mandate has expired".into(),
        ));
    }
    if m.asset != debit.asset().as_str() {
        return Err(refuse(
            "mandate_asset_not_allowed",
            format!(
                "this API key may spend only {}, the payout debits {}",
                m.asset,
                debit.asset()
            ),
        ));
    }
    if let Some(allowed) = &m.allowed_beneficiaries
        && !allowed.contains(&beneficiary)
    {
        return Err(refuse(
            "mandate_beneficiary_not_allowed",
            "this API key may not pay this beneficiary".into(),
        ));
    }
    if let Some(max) = m.per_payout_max
        && debit.amount() > max
    {
        return Err(refuse(
            "mandate_per_payout_exceeded",
            format!(
                "the payout debits {} {} (amount plus fee); this API key may spend at most {max} per payout",
                debit.amount(),
                debit.asset()
            ),
        ));
    }
    if let Some(budget) = m.daily_budget {
        let spent = spent_today(conn, key, &m.asset).await?;
        if spent + debit.amount() > budget {
            return Err(refuse(
                "mandate_daily_budget_exceeded",
                format!(
                    "this API key has spent {spent} of its {budget} {} budget today (UTC); the payout debits {}",
                    m.asset,
                    debit.amount()
                ),
            ));
        }
    }
    Ok(())
}

/// What the key's payouts created since midnight UTC take from the balance, leaving out those
/// whose hold was released (rejected, canceled, failed).
async fn spent_today(conn: &mut PgConnection, key: ApiKeyId, asset: &str) -> Result<Decimal, ApiError> {
    let spent = sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(debit_amount + fee), 0) AS "spent!"
             FROM payouts.payouts
            WHERE api_key_id = $1 AND debit_asset = $2
              AND created_at >= date_trunc('day', now(), 'UTC')
              AND status NOT IN ('rejected', 'canceled', 'failed')"#,
        key.as_uuid(),
        asset,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(ApiError::internal)?;
    Ok(spent)
}
