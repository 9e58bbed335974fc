//! The merchant pages: API keys (list, create with the secret shown once, revoke). A merchant
//! admin's session acts for its own merchant only; keys are made by the platform's own function,
//! the one the API and the admin CLI use.

use crate::{
    session::{Session, csrf_ok, csrf_refused},
    views::{self, ApiKeysPage, Bar, KeyRow},
};
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use corridor_domain::ids::{ApiKeyId, MerchantId};
use corridor_platform::{
    AppState,
    auth::{Role, Scope},
    routes::api_keys_create,
};
use corridor_store::api_keys;

/// Keys listed on the page (a merchant has a handful; the API pages through more).
const KEYS_SHOWN_MAX: i64 = 200;

fn merchant_of(session: &Session) -> Result<MerchantId, Response> {
    session.require(&[Role::MerchantAdmin], "API key pages")?;
    session.merchant_id.ok_or_else(|| {
        views::problem_page(
            StatusCode::FORBIDDEN,
            "No merchant",
            "Your console user is not attached to a merchant; ask your platform administrator.",
        )
    })
}

async fn page(state: &AppState, session: &Session, status: StatusCode, secret: (&str, &str), error: &str) -> Response {
    let merchant = match merchant_of(session) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let rows = match state.pool().acquire().await {
        Ok(mut conn) => api_keys::list(&mut conn, merchant, None, KEYS_SHOWN_MAX).await,
        Err(_) => return views::unavailable(),
    };
    let Ok(rows) = rows else {
        return views::unavailable();
    };
    let keys = rows
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.join(", "),
            created_at: k.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    views::render(
        status,
        &ApiKeysPage {
            title: "API keys",
            bar: Bar::of(session),
            keys,
            scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
            secret_name: secret.0.to_owned(),
            secret: secret.1.to_owned(),
            error: error.to_owned(),
        },
    )
}

pub async fn list(State(state): State<AppState>, session: Session) -> Response {
    page(&state, &session, StatusCode::OK, ("", ""), "").await
}

/// The form posts `name`, `csrf` and one `scope` per ticked box, so it is read as pairs.
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    axum::extract::RawForm(raw): axum::extract::RawForm,
) -> Response {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&raw[..]).into_owned().collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if !csrf_ok(&headers, field("csrf")) {
        return csrf_refused();
    }
    let merchant = match merchant_of(&session) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let name = field("name").trim();
    if name.is_empty() || name.chars().count() > 100 {
        let error = "Give the key a name of 1 to 100 characters, for example the system that will use it.";
        return page(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, ("", ""), error).await;
    }
    let mut scopes = Vec::new();
    for (_, value) in pairs.iter().filter(|(k, _)| k == "scope") {
        match Scope::parse(value) {
            Some(s) if !scopes.contains(&s) => scopes.push(s),
            Some(_) => {}
            None => {
                let error = format!("{value:?} is not a scope.");
                return page(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, ("", ""), &error).await;
            }
        }
    }
    if scopes.is_empty() {
        let error = "Tick at least one scope: a key without scopes can do nothing.";
        return page(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, ("", ""), error).await;
    }
    match api_keys_create(&state, merchant, name, &scopes).await {
        Ok(created) => {
            tracing::info!(key = %created.key.id, merchant = %merchant, by = %session.user_id, "api key created in the console");
            page(&state, &session, StatusCode::CREATED, (name, &created.secret), "").await
        }
        Err(e) => page(&state, &session, e.status, ("", ""), &e.detail).await,
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&headers, &form.csrf) {
        return csrf_refused();
    }
    let merchant = match merchant_of(&session) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let Ok(key) = ApiKeyId::parse(&id) else {
        return views::problem_page(StatusCode::NOT_FOUND, "Not found", "There is no API key with this id.");
    };
    let revoked = match state.pool().acquire().await {
        Ok(mut conn) => api_keys::revoke(&mut conn, merchant, key).await,
        Err(_) => return views::unavailable(),
    };
    match revoked {
        Ok(()) => {
            tracing::info!(key = %key, merchant = %merchant, by = %session.user_id, "api key revoked in the console");
            Redirect::to("/console/merchant/api-keys").into_response()
        }
        Err(corridor_store::StoreError::NotFound(_)) => {
            views::problem_page(StatusCode::NOT_FOUND, "Not found", "There is no API key with this id.")
        }
        Err(_) => views::unavailable(),
    }
}
