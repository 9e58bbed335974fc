use crate::StoreError;
use corridor_domain::ids::{ConsoleUserId, MerchantId};
use sqlx::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUserRow {
    pub id: ConsoleUserId,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub merchant_id: Option<MerchantId>,
    pub disabled: bool,
}

pub async fn insert(
    conn: &mut PgConnection,
    id: ConsoleUserId,
    email: &str,
    password_hash: &str,
    role: &str,
    merchant_id: Option<MerchantId>,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"INSERT INTO platform.console_users (id, email, password_hash, role, merchant_id)
           VALUES ($1, $2, $3, $4, $5)"#,
        id.as_uuid(),
        email,
        password_hash,
        role,
        merchant_id.map(|m| m.as_uuid()),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The row as Postgres returns it; converted once into the typed `ConsoleUserRow`.
struct DbConsoleUser {
    id: uuid::Uuid,
    email: String,
    password_hash: String,
    role: String,
    merchant_id: Option<uuid::Uuid>,
    disabled: bool,
}

impl From<DbConsoleUser> for ConsoleUserRow {
    fn from(r: DbConsoleUser) -> Self {
        ConsoleUserRow {
            id: ConsoleUserId::from_uuid(r.id),
            email: r.email,
            password_hash: r.password_hash,
            role: r.role,
            merchant_id: r.merchant_id.map(MerchantId::from_uuid),
            disabled: r.disabled,
        }
    }
}

pub async fn find_by_email(conn: &mut PgConnection, email: &str) -> Result<Option<ConsoleUserRow>, StoreError> {
    let row = sqlx::query_as!(
        DbConsoleUser,
        r#"SELECT id, email, password_hash, role, merchant_id, disabled_at IS NOT NULL AS "disabled!"
             FROM platform.console_users WHERE lower(email) = lower($1)"#,
        email,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(ConsoleUserRow::from))
}

pub async fn find(conn: &mut PgConnection, id: ConsoleUserId) -> Result<Option<ConsoleUserRow>, StoreError> {
    let row = sqlx::query_as!(
        DbConsoleUser,
        r#"SELECT id, email, password_hash, role, merchant_id, disabled_at IS NOT NULL AS "disabled!"
             FROM platform.console_users WHERE id = $1"#,
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(ConsoleUserRow::from))
}
