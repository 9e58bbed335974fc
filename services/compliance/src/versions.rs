//! List versions in Postgres: import (parse first, then one transaction that supersedes the
//! source's active version), the default snapshot shipped in `data/`, and the active entries.

use crate::lists::{ListEntry, ListError};
use crate::ofac::{self, OfacFiles};
use chrono::{DateTime, NaiveDate, Utc};
use corridor_store::StoreError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Sources Corridor can parse, with the files each one is made of (the first is required).
pub const SOURCES: &[(&str, &[&str])] = &[
    ("ofac_sdn", &["sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"]),
    (
        "ofac_consolidated",
        &["cons_prim.csv", "cons_alt.csv", "cons_add.csv", "cons_comments.csv"],
    ),
];

/// A list file: its name and content.
pub type NamedFile<'a> = (&'a str, &'a [u8]);

/// The public-domain snapshot compiled into the binary (see data/README.md).
pub const DEFAULT_SNAPSHOT: &[(&str, &[NamedFile<'static>])] = &[
    (
        "ofac_sdn",
        &[
            ("sdn.csv", include_bytes!("../data/ofac/sdn.csv")),
            ("alt.csv", include_bytes!("../data/ofac/alt.csv")),
            ("add.csv", include_bytes!("../data/ofac/add.csv")),
            ("sdn_comments.csv", include_bytes!("../data/ofac/sdn_comments.csv")),
        ],
    ),
    (
        "ofac_consolidated",
        &[
            (
                "cons_prim.csv",
                include_bytes!("../data/ofac_consolidated/cons_prim.csv"),
            ),
            ("cons_alt.csv", include_bytes!("../data/ofac_consolidated/cons_alt.csv")),
            ("cons_add.csv", include_bytes!("../data/ofac_consolidated/cons_add.csv")),
            (
                "cons_comments.csv",
                include_bytes!("../data/ofac_consolidated/cons_comments.csv"),
            ),
        ],
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("unknown list source {0:?}; known: ofac_sdn, ofac_consolidated")]
    UnknownSource(String),
    #[error("{source_name}: the file {file} is required")]
    MissingFile { source_name: String, file: String },
    #[error("{source_name}: unexpected file {file:?}; expected {expected}")]
    UnexpectedFile {
        source_name: String,
        file: String,
        expected: String,
    },
    #[error(transparent)]
    Parse(#[from] ListError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(e.into())
    }
}

/// Parses a source's files (by file name). Nothing is stored; a bad file names its line.
pub fn parse(source: &str, files: &[NamedFile<'_>]) -> Result<Vec<ListEntry>, ImportError> {
    let (_, names) = SOURCES
        .iter()
        .find(|(s, _)| *s == source)
        .ok_or_else(|| ImportError::UnknownSource(source.to_owned()))?;
    if let Some((file, _)) = files.iter().find(|(f, _)| !names.contains(f)) {
        return Err(ImportError::UnexpectedFile {
            source_name: source.to_owned(),
            file: (*file).to_owned(),
            expected: names.join(", "),
        });
    }
    let get = |i: usize| files.iter().find(|(f, _)| *f == names[i]).map(|(f, b)| (*f, *b));
    let primary = get(0).ok_or_else(|| ImportError::MissingFile {
        source_name: source.to_owned(),
        file: names[0].to_owned(),
    })?;
    Ok(ofac::parse(
        source,
        &OfacFiles {
            primary,
            aliases: get(1),
            addresses: get(2),
            comments: get(3),
        },
    )?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListVersion {
    #[schema(value_type = String)]
    pub id: Uuid,
    pub source: String,
    /// Each file's name, SHA-256 and size.
    #[schema(value_type = Object)]
    pub files: serde_json::Value,
    pub content_hash: String,
    pub published_on: Option<NaiveDate>,
    pub entries: i32,
    pub names: i32,
    pub addresses: i32,
    pub imported_by: String,
    pub imported_at: DateTime<Utc>,
    /// The last import of these files: screening treats an active version not confirmed within
    /// the configured age as stale.
    pub confirmed_at: DateTime<Utc>,
    /// active or superseded.
    pub status: String,
}

pub struct Imported {
    pub version: ListVersion,
    /// False when the same files were imported before: nothing changed.
    pub created: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses and stores a new version of `source`, superseding the active one in the same
/// transaction. The same files again answer with the version they made.
pub async fn import(
    pool: &PgPool,
    source: &str,
    files: &[NamedFile<'_>],
    published_on: Option<NaiveDate>,
    imported_by: &str,
) -> Result<Imported, ImportError> {
    let entries = parse(source, files)?;
    let mut described = Vec::new();
    let mut content = Sha256::new();
    let mut sorted: Vec<&NamedFile<'_>> = files.iter().collect();
    sorted.sort_by_key(|(name, _)| *name);
    for (name, bytes) in sorted {
        let digest = hex(&Sha256::digest(bytes));
        content.update(format!("{name}:{digest}\n"));
        described.push(serde_json::json!({ "name": name, "sha256": digest, "bytes": bytes.len() }));
    }
    let content_hash = hex(&content.finalize());
    let names: usize = entries.iter().map(|e| 1 + e.aliases.len()).sum();
    let addresses: usize = entries.iter().map(|e| e.addresses.len()).sum();

    let mut tx = pool.begin().await?;
    // One import per source at a time; the second waits and then sees the first's version.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('compliance.list_import:' || $1))",
        source
    )
    .execute(&mut *tx)
    .await?;
    if let Some(version) = by_hash(&mut tx, source, &content_hash).await? {
        // Nothing new from the publisher: the active version is confirmed current. (Importing an
        // older, superseded version's files again changes nothing at all.)
        sqlx::query!(
            "UPDATE compliance.list_versions SET confirmed_at = now() WHERE id = $1 AND status = 'active'",
            version.id
        )
        .execute(&mut *tx)
        .await?;
        let version = by_hash(&mut tx, source, &content_hash).await?.unwrap_or(version);
        // Only the active version is confirmed; an older version's files again change nothing,
        // and the log says so rather than claiming a confirmation.
        let action = if version.status == "active" {
            "sanctions_list.confirmed"
        } else {
            "sanctions_list.superseded_reimported"
        };
        audit(&mut tx, imported_by, action, &version).await?;
        tx.commit().await?;
        return Ok(Imported {
            version,
            created: false,
        });
    }
    sqlx::query!(
        "UPDATE compliance.list_versions SET status = 'superseded' WHERE source = $1 AND status = 'active'",
        source
    )
    .execute(&mut *tx)
    .await?;
    let id = Uuid::now_v7();
    let count = |n: usize| i32::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n}")));
    sqlx::query!(
        r#"INSERT INTO compliance.list_versions
               (id, source, files, content_hash, published_on, entries, names, addresses, imported_by, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active')"#,
        id,
        source,
        serde_json::Value::Array(described),
        content_hash,
        published_on,
        count(entries.len())?,
        count(names)?,
        count(addresses)?,
        imported_by,
    )
    .execute(&mut *tx)
    .await?;
    let json = serde_json::to_value(&entries).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query!(
        r#"INSERT INTO compliance.list_entries (version_id, ent_num, entry)
           SELECT $1, (e->>'ent_num')::bigint, e FROM jsonb_array_elements($2::jsonb) AS e"#,
        id,
        json,
    )
    .execute(&mut *tx)
    .await?;
    let version = by_hash(&mut tx, source, &content_hash)
        .await?
        .ok_or_else(|| StoreError::Corrupt("imported version vanished".into()))?;
    audit(&mut tx, imported_by, "sanctions_list.imported", &version).await?;
    tx.commit().await?;
    Ok(Imported { version, created: true })
}

async fn audit(conn: &mut PgConnection, actor: &str, action: &str, v: &ListVersion) -> Result<(), StoreError> {
    let detail = serde_json::json!({
        "source": v.source, "content_hash": v.content_hash, "entries": v.entries, "addresses": v.addresses,
        "files": v.files,
    });
    corridor_store::audit::append(conn, actor, action, &v.id.to_string(), &detail).await?;
    Ok(())
}

async fn by_hash(conn: &mut PgConnection, source: &str, hash: &str) -> Result<Option<ListVersion>, sqlx::Error> {
    sqlx::query_as!(
        ListVersion,
        r#"SELECT id, source, files, content_hash, published_on, entries, names, addresses, imported_by,
                  imported_at, confirmed_at, status
             FROM compliance.list_versions WHERE source = $1 AND content_hash = $2"#,
        source,
        hash,
    )
    .fetch_optional(conn)
    .await
}

/// Every version, newest first (at most `limit`).
pub async fn versions(conn: &mut PgConnection, limit: i64) -> Result<Vec<ListVersion>, sqlx::Error> {
    sqlx::query_as!(
        ListVersion,
        r#"SELECT id, source, files, content_hash, published_on, entries, names, addresses, imported_by,
                  imported_at, confirmed_at, status
             FROM compliance.list_versions ORDER BY imported_at DESC, id DESC LIMIT $1"#,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// The active version of each source, by source.
pub async fn active(conn: &mut PgConnection) -> Result<Vec<ListVersion>, sqlx::Error> {
    sqlx::query_as!(
        ListVersion,
        r#"SELECT id, source, files, content_hash, published_on, entries, names, addresses, imported_by,
                  imported_at, confirmed_at, status
             FROM compliance.list_versions WHERE status = 'active' ORDER BY source"#,
    )
    .fetch_all(conn)
    .await
}

/// The entries of the given versions.
pub async fn entries(conn: &mut PgConnection, versions: &[Uuid]) -> Result<Vec<ListEntry>, StoreError> {
    let rows = sqlx::query_scalar!(
        "SELECT entry FROM compliance.list_entries WHERE version_id = ANY($1) ORDER BY version_id, ent_num",
        versions,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|e| serde_json::from_value(e).map_err(|e| StoreError::Corrupt(format!("list entry: {e}"))))
        .collect()
}

/// Imports the shipped snapshot's sources that have no version yet (a fresh install).
pub async fn import_default_if_empty(pool: &PgPool) -> Result<Vec<Imported>, ImportError> {
    let mut conn = pool.acquire().await?;
    let present: Vec<String> = sqlx::query_scalar!("SELECT DISTINCT source FROM compliance.list_versions")
        .fetch_all(&mut *conn)
        .await?;
    drop(conn);
    let mut done = Vec::new();
    for (source, files) in DEFAULT_SNAPSHOT {
        if !present.iter().any(|p| p == source) {
            done.push(import(pool, source, files, None, "default snapshot").await?);
        }
    }
    Ok(done)
}
