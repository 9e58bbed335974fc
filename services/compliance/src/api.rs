//! Compliance API for staff: list versions, importing newer list files, and ad-hoc screening of
//! a name or an address with the full evidence (scores, list versions, threshold).

use crate::{
    index::ScreeningIndex,
    versions::{self, ImportError, ListVersion},
};
use axum::{
    Extension,
    extract::{Path, State},
    http::StatusCode,
};
use corridor_platform::{
    ApiError, ApiJson, AppState,
    auth::{ConsoleAuth, Role},
};
use corridor_store::StoreError;
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, sync::Arc};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

const OFFICERS: [Role; 2] = [Role::ComplianceOfficer, Role::ComplianceLead];
/// Names at or above this score are hits unless the request asks for another threshold.
pub const DEFAULT_THRESHOLD: f64 = 0.90;
/// Name hits returned per screening.
const NAME_HITS_MAX: usize = 20;

/// The screening index over the active list versions, rebuilt when they change.
pub struct Loaded {
    pub versions: Vec<ListVersion>,
    pub index: ScreeningIndex,
}

#[derive(Default)]
pub struct ListCache {
    current: RwLock<Option<Arc<Loaded>>>,
    rebuilding: Mutex<()>,
}

impl ListCache {
    /// The index for the active versions; `None` when no list was ever imported.
    pub async fn get(&self, pool: &sqlx::PgPool) -> Result<Option<Arc<Loaded>>, StoreError> {
        let mut conn = pool.acquire().await?;
        let active = versions::active(&mut conn).await?;
        if active.is_empty() {
            return Ok(None);
        }
        let ids: Vec<Uuid> = active.iter().map(|v| v.id).collect();
        let same = |l: &Loaded| l.versions.iter().map(|v| v.id).eq(ids.iter().copied());
        if let Some(l) = self.current.read().await.as_ref().filter(|l| same(l)) {
            return Ok(Some(l.clone()));
        }
        // One rebuild at a time; whoever waited finds it done.
        let _guard = self.rebuilding.lock().await;
        if let Some(l) = self.current.read().await.as_ref().filter(|l| same(l)) {
            return Ok(Some(l.clone()));
        }
        let entries = versions::entries(&mut conn, &ids).await?;
        drop(conn);
        let index = tokio::task::spawn_blocking(move || ScreeningIndex::new(entries))
            .await
            .map_err(|e| StoreError::Corrupt(format!("building the screening index: {e}")))?;
        let loaded = Arc::new(Loaded {
            versions: active,
            index,
        });
        *self.current.write().await = Some(loaded.clone());
        Ok(Some(loaded))
    }
}

/// Every list version, newest first.
#[utoipa::path(get, path = "/v1/compliance/lists", tag = "compliance", security(("console_session" = [])),
    responses((status = 200, body = Vec<ListVersion>), (status = 403, body = corridor_platform::error::Problem)))]
pub async fn list_versions(
    State(state): State<AppState>,
    auth: ConsoleAuth,
) -> Result<ApiJson<Vec<ListVersion>>, ApiError> {
    auth.require_any(&OFFICERS)?;
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let rows = versions::versions(&mut conn, 200).await.map_err(ApiError::internal)?;
    Ok(ApiJson(rows))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportList {
    /// File name to content, e.g. `{"sdn.csv": "...", "alt.csv": "..."}`.
    pub files: BTreeMap<String, String>,
    /// The date the publisher gave the list, if known.
    pub published_on: Option<chrono::NaiveDate>,
}

/// Import a newer version of a list (compliance lead only). A file that cannot be read is
/// refused naming its line, and the active version stays; the same files again change nothing.
#[utoipa::path(post, path = "/v1/compliance/lists/{source}", tag = "compliance", request_body = ImportList,
    params(("source" = String, Path, description = "ofac_sdn or ofac_consolidated")),
    security(("console_session" = [])),
    responses((status = 201, body = ListVersion), (status = 200, body = ListVersion),
              (status = 403, body = corridor_platform::error::Problem), (status = 422, body = corridor_platform::error::Problem)))]
pub async fn import_list(
    State(state): State<AppState>,
    auth: ConsoleAuth,
    Path(source): Path<String>,
    ApiJson(req): ApiJson<ImportList>,
) -> Result<(StatusCode, ApiJson<ListVersion>), ApiError> {
    auth.require_any(&[Role::ComplianceLead])?;
    let files: Vec<(&str, &[u8])> = req
        .files
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_bytes()))
        .collect();
    let by = format!("console user {}", auth.user_id);
    let imported = versions::import(state.pool(), &source, &files, req.published_on, &by)
        .await
        .map_err(|e| match e {
            ImportError::UnknownSource(_) => ApiError::unprocessable("unknown_list_source", e.to_string()),
            ImportError::MissingFile { .. } | ImportError::UnexpectedFile { .. } => {
                ApiError::unprocessable("list_files_invalid", e.to_string())
            }
            ImportError::Parse(_) => ApiError::unprocessable("list_file_corrupt", e.to_string()),
            ImportError::Store(s) => s.into(),
        })?;
    let status = if imported.created {
        tracing::info!(source, version = %imported.version.id, by, "sanctions list imported");
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(imported.version)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenRequest {
    pub name: Option<String>,
    /// Any chain's address; EVM addresses match in any case.
    pub address: Option<String>,
    /// Name score at or above which a listed name is a hit; default 0.90.
    pub threshold: Option<f64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScoreView {
    pub jaro_winkler: f64,
    pub token_set: f64,
    pub overall: f64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub list: String,
    pub ent_num: u64,
    pub name: String,
    /// individual, entity, vessel, aircraft.
    pub kind: String,
    pub programs: Vec<String>,
    /// For name hits: the listed name or alias that matched, and the scores.
    pub matched: Option<String>,
    pub is_alias: Option<bool>,
    pub score: Option<ScoreView>,
    pub countries: Vec<String>,
    pub dates_of_birth: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScreenResult {
    /// The list versions screened against.
    pub list_versions: Vec<ListVersion>,
    pub threshold: f64,
    pub address_hits: Vec<Hit>,
    pub name_hits: Vec<Hit>,
}

fn hit(e: &crate::lists::ListEntry) -> Hit {
    Hit {
        list: e.list.clone(),
        ent_num: e.ent_num,
        name: e.name.clone(),
        kind: e.kind.as_str().to_owned(),
        programs: e.programs.clone(),
        matched: None,
        is_alias: None,
        score: None,
        countries: e.countries.clone(),
        dates_of_birth: e.dates_of_birth.clone(),
    }
}

/// Screen a name and/or an address against the active lists.
#[utoipa::path(post, path = "/v1/compliance/screen", tag = "compliance", request_body = ScreenRequest,
    security(("console_session" = [])),
    responses((status = 200, body = ScreenResult), (status = 403, body = corridor_platform::error::Problem),
              (status = 422, body = corridor_platform::error::Problem), (status = 503, body = corridor_platform::error::Problem)))]
pub async fn screen(
    State(state): State<AppState>,
    Extension(cache): Extension<Arc<ListCache>>,
    auth: ConsoleAuth,
    ApiJson(req): ApiJson<ScreenRequest>,
) -> Result<ApiJson<ScreenResult>, ApiError> {
    auth.require_any(&OFFICERS)?;
    let threshold = req.threshold.unwrap_or(DEFAULT_THRESHOLD);
    if !(0.5..=1.0).contains(&threshold) {
        return Err(ApiError::unprocessable(
            "invalid_threshold",
            "threshold must be between 0.5 and 1.0",
        ));
    }
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let address = req.address.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if name.is_none() && address.is_none() {
        return Err(ApiError::unprocessable(
            "screen_subject_required",
            "give a name, an address, or both",
        ));
    }
    if name.is_some_and(|n| n.chars().count() > 300) || address.is_some_and(|a| a.len() > 200) {
        return Err(ApiError::unprocessable(
            "screen_subject_too_long",
            "name or address too long",
        ));
    }
    let loaded = cache.get(state.pool()).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "lists_unavailable",
            "no sanctions list is loaded; import one (corridor sanctions import)",
        )
    })?;
    let address_hits = address
        .map(|a| loaded.index.screen_address(a).into_iter().map(hit).collect())
        .unwrap_or_default();
    let name_hits = name
        .map(|n| {
            loaded
                .index
                .screen_name(n, threshold)
                .into_iter()
                .take(NAME_HITS_MAX)
                .map(|h| Hit {
                    matched: Some(h.matched.to_owned()),
                    is_alias: Some(h.is_alias),
                    score: Some(ScoreView {
                        jaro_winkler: h.score.jaro_winkler,
                        token_set: h.score.token_set,
                        overall: h.score.overall,
                    }),
                    ..hit(h.entry)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ApiJson(ScreenResult {
        list_versions: loaded.versions.clone(),
        threshold,
        address_hits,
        name_hits,
    }))
}
