use corridor_ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("insufficient funds: the entry would take a non-overdraft account below zero")]
    InsufficientFunds,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A named constraint refused the write (unique keys, checks); the name is stable.
    #[error("constraint {0} refused the write")]
    Constraint(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.constraint() {
                Some("accounts_balance_non_negative") => return StoreError::InsufficientFunds,
                Some(name) => return StoreError::Constraint(name.to_owned()),
                None => {}
            }
        }
        StoreError::Database(err)
    }
}

impl StoreError {
    /// Serialization failures and deadlocks: the whole transaction may be retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40001" | "40P01"))
            }
            _ => false,
        }
    }
}

/// Commits, mapping deferred-constraint failures (they surface only at COMMIT) like any other.
pub async fn commit(tx: sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), StoreError> {
    tx.commit().await.map_err(StoreError::from)
}
