//! Importing a bank statement file, all or nothing, in the caller's transaction: the file is
//! stored once by its SHA-256 (the same file again changes nothing), every statement must be for
//! a bank account treasury configured and in its currency, and every line is stored with a
//! dedupe key; a line already imported from another file is kept, pointing at the first.

use crate::statements::{self, Format, Line, ParseError, Statement};
use corridor_store::StoreError;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// Lines written per INSERT: bounds each round trip of a large import.
const INSERT_CHUNK: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {error}")]
    Parse { file: String, error: ParseError },
    #[error("{file}: line {line}: account {account} is not a bank account treasury reconciles")]
    UnknownAccount { file: String, line: u32, account: String },
    #[error("{file}: line {line}: {found} on account {account}, which is kept in {expected}")]
    WrongCurrency {
        file: String,
        line: u32,
        account: String,
        expected: String,
        found: String,
    },
    #[error("the bank account does not exist or has no CSV column mapping")]
    NoCsvMapping,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(e.into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub file_id: Uuid,
    pub format: String,
    pub statements: i32,
    pub lines: i32,
    pub duplicate_lines: i32,
    /// The same bytes were imported before; nothing changed.
    pub already_imported: bool,
}

pub struct BankAccount {
    pub id: Uuid,
    pub account: String,
    pub currency: String,
}

/// Upper case without spaces, as accounts are stored.
pub fn normalize_account(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

/// The configured account a statement is for. Some banks append the currency to the account
/// (ING's `:25:NL77INGB0574908765EUR`), which is accepted when it is the account's currency.
fn account_for<'a>(accounts: &'a [BankAccount], statement: &Statement) -> Option<&'a BankAccount> {
    let given = normalize_account(&statement.account);
    accounts.iter().find(|a| {
        given == a.account
            || given
                .strip_prefix(a.account.as_str())
                .is_some_and(|rest| rest == a.currency)
    })
}

/// What identifies a movement across files: the bank's own reference where it gives one (with
/// amount and booking date, in case a bank reuses references), otherwise the whole content and
/// its occurrence in the file (two identical card payments on one day are two lines).
pub fn dedupe_key(account: Uuid, line: &Line, occurrence: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    part(&account.to_string());
    part(&line.amount.normalize().to_string());
    part(&line.currency);
    part(&line.booking_date.map(|d| d.to_string()).unwrap_or_default());
    match &line.bank_reference {
        Some(r) => {
            part("ref");
            part(r);
        }
        None => {
            part("content");
            for f in [
                &line.value_date.map(|d| d.to_string()),
                &line.end_to_end_id,
                &line.reference,
                &line.counterparty_account,
                &line.description,
                &line.type_code,
            ] {
                part(f.as_deref().unwrap_or_default());
            }
            part(&occurrence.to_string());
        }
    }
    h.finalize().into()
}

/// Imports one file; see the module comment. `csv_account` names the bank account whose column
/// mapping reads a CSV export (other formats name their account themselves).
pub async fn import(
    conn: &mut PgConnection,
    file_name: &str,
    bytes: &[u8],
    actor: Option<Uuid>,
    csv_account: Option<Uuid>,
) -> Result<Imported, ImportError> {
    let sha: [u8; 32] = Sha256::digest(bytes).into();
    // One import at a time: whether a line is new depends on every earlier import.
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('reconciliation.import'))")
        .execute(&mut *conn)
        .await?;
    if let Some(f) = sqlx::query!(
        "SELECT id, format, statements, lines, duplicate_lines FROM reconciliation.statement_files WHERE sha256 = $1",
        &sha[..],
    )
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(Imported {
            file_id: f.id,
            format: f.format,
            statements: f.statements,
            lines: f.lines,
            duplicate_lines: f.duplicate_lines,
            already_imported: true,
        });
    }
    let parse_error = |error| ImportError::Parse {
        file: file_name.to_owned(),
        error,
    };
    let parsed = match csv_account {
        None => statements::parse(bytes).map_err(parse_error)?,
        Some(account) => {
            let row = sqlx::query!(
                r#"SELECT a.account, a.currency, m.mapping AS "mapping?"
                     FROM reconciliation.bank_accounts a
                     LEFT JOIN reconciliation.csv_mappings m ON m.bank_account_id = a.id
                    WHERE a.id = $1"#,
                account,
            )
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(ImportError::NoCsvMapping)?;
            let mapping: statements::csv::Mapping = row
                .mapping
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .ok_or(ImportError::NoCsvMapping)?;
            let statement =
                statements::csv::parse(bytes, &mapping, &row.account, &row.currency).map_err(parse_error)?;
            statements::checked(Format::Csv, vec![statement]).map_err(parse_error)?
        }
    };
    let accounts = sqlx::query_as!(
        BankAccount,
        "SELECT id, account, currency FROM reconciliation.bank_accounts ORDER BY account"
    )
    .fetch_all(&mut *conn)
    .await?;
    // Every statement checked before anything is written.
    let mut rows: Vec<Row> = Vec::new();
    for s in &parsed.statements {
        let account = account_for(&accounts, s).ok_or_else(|| ImportError::UnknownAccount {
            file: file_name.to_owned(),
            line: s.account_line,
            account: s.account.clone(),
        })?;
        let mut occurrences: HashMap<[u8; 32], u32> = HashMap::new();
        for l in &s.lines {
            if l.currency != account.currency {
                return Err(ImportError::WrongCurrency {
                    file: file_name.to_owned(),
                    line: l.line,
                    account: account.account.clone(),
                    expected: account.currency.clone(),
                    found: l.currency.clone(),
                });
            }
            let base = dedupe_key(account.id, l, 0);
            let n = occurrences.entry(base).or_insert(0);
            let key = if *n == 0 { base } else { dedupe_key(account.id, l, *n) };
            *n += 1;
            rows.push(Row {
                id: Uuid::now_v7(),
                account: account.id,
                statement: s,
                line: l,
                key,
                duplicate_of: None,
            });
        }
    }
    let keys: Vec<Vec<u8>> = rows.iter().map(|r| r.key.to_vec()).collect();
    let originals: HashMap<Vec<u8>, Uuid> = sqlx::query!(
        r#"SELECT dedupe_key, id FROM reconciliation.bank_lines
            WHERE dedupe_key = ANY($1) AND duplicate_of IS NULL"#,
        &keys,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.dedupe_key, r.id))
    .collect();
    // A line is a duplicate of the first line with its key: from an earlier file, or earlier in
    // this one (the same bank reference twice).
    let mut first_in_file: HashMap<[u8; 32], Uuid> = HashMap::new();
    for r in &mut rows {
        r.duplicate_of = match originals.get(&r.key[..]) {
            Some(original) => Some(*original),
            None => match first_in_file.get(&r.key) {
                Some(first) => Some(*first),
                None => {
                    first_in_file.insert(r.key, r.id);
                    None
                }
            },
        };
    }
    let duplicates = rows.iter().filter(|r| r.duplicate_of.is_some()).count();
    let file_id = Uuid::now_v7();
    let count = |n: usize| i32::try_from(n).map_err(|_| StoreError::Corrupt("count out of range".into()));
    sqlx::query!(
        r#"INSERT INTO reconciliation.statement_files
               (id, sha256, file_name, format, statements, lines, duplicate_lines, imported_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        file_id,
        &sha[..],
        file_name,
        parsed.format.as_str(),
        count(parsed.statements.len())?,
        count(rows.len())?,
        count(duplicates)?,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    for chunk in rows.chunks(INSERT_CHUNK) {
        insert_lines(conn, file_id, chunk).await?;
    }
    Ok(Imported {
        file_id,
        format: parsed.format.as_str().to_owned(),
        statements: count(parsed.statements.len())?,
        lines: count(rows.len())?,
        duplicate_lines: count(duplicates)?,
        already_imported: false,
    })
}

struct Row<'a> {
    id: Uuid,
    account: Uuid,
    statement: &'a Statement,
    line: &'a Line,
    key: [u8; 32],
    duplicate_of: Option<Uuid>,
}

async fn insert_lines(conn: &mut PgConnection, file_id: Uuid, rows: &[Row<'_>]) -> Result<(), ImportError> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut accounts = Vec::with_capacity(rows.len());
    let mut statement_refs = Vec::with_capacity(rows.len());
    let mut file_lines = Vec::with_capacity(rows.len());
    let mut amounts: Vec<Decimal> = Vec::with_capacity(rows.len());
    let mut currencies = Vec::with_capacity(rows.len());
    let mut booking = Vec::with_capacity(rows.len());
    let mut value = Vec::with_capacity(rows.len());
    let mut bank_refs = Vec::with_capacity(rows.len());
    let mut e2e = Vec::with_capacity(rows.len());
    let mut refs = Vec::with_capacity(rows.len());
    let mut cp_names = Vec::with_capacity(rows.len());
    let mut cp_accounts = Vec::with_capacity(rows.len());
    let mut descriptions = Vec::with_capacity(rows.len());
    let mut type_codes = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    let mut duplicate_of = Vec::with_capacity(rows.len());
    for r in rows {
        let (s, l) = (r.statement, r.line);
        ids.push(r.id);
        accounts.push(r.account);
        statement_refs.push(s.id.clone());
        file_lines.push(i32::try_from(l.line).unwrap_or(i32::MAX));
        amounts.push(l.amount);
        currencies.push(l.currency.clone());
        booking.push(l.booking_date);
        value.push(l.value_date);
        bank_refs.push(l.bank_reference.clone());
        e2e.push(l.end_to_end_id.clone());
        refs.push(l.reference.clone());
        cp_names.push(l.counterparty_name.clone());
        cp_accounts.push(l.counterparty_account.clone());
        descriptions.push(l.description.clone());
        type_codes.push(l.type_code.clone());
        keys.push(r.key.to_vec());
        duplicate_of.push(r.duplicate_of);
    }
    sqlx::query!(
        r#"INSERT INTO reconciliation.bank_lines
               (id, file_id, bank_account_id, statement_ref, file_line, amount, currency, booking_date, value_date,
                bank_reference, end_to_end_id, reference, counterparty_name, counterparty_account, description,
                type_code, dedupe_key, duplicate_of)
           SELECT id, $2, account, sref, fline, amount, ccy, bdate, vdate, bref, e2e, ref, cpn, cpa, descr, tcode, dkey, dup
             FROM UNNEST($1::uuid[], $3::uuid[], $4::text[], $5::int4[], $6::numeric[], $7::text[], $8::date[],
                         $9::date[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
                         $16::text[], $17::bytea[], $18::uuid[])
                  AS t(id, account, sref, fline, amount, ccy, bdate, vdate, bref, e2e, ref, cpn, cpa, descr, tcode,
                       dkey, dup)"#,
        &ids,
        file_id,
        &accounts,
        &statement_refs,
        &file_lines,
        &amounts,
        &currencies,
        &booking as &[Option<chrono::NaiveDate>],
        &value as &[Option<chrono::NaiveDate>],
        &bank_refs as &[Option<String>],
        &e2e as &[Option<String>],
        &refs as &[Option<String>],
        &cp_names as &[Option<String>],
        &cp_accounts as &[Option<String>],
        &descriptions as &[Option<String>],
        &type_codes as &[Option<String>],
        &keys,
        &duplicate_of as &[Option<Uuid>],
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The formats an import accepts, for error messages.
pub fn formats() -> String {
    [
        Format::Camt052,
        Format::Camt053,
        Format::Camt054,
        Format::Mt940,
        Format::Bai2,
    ]
    .map(|f| f.as_str())
    .join(", ")
}
