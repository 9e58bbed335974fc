use crate::{
    auth::{jwt::Role, password},
    error::ApiError,
    extract::ApiJson,
    state::AppState,
};
use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use corridor_store::console_users;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub role: Role,
}

/// Log in as a console user. Unknown email and wrong password get the same answer.
#[utoipa::path(post, path = "/v1/console/sessions", tag = "console", request_body = LoginRequest,
    responses((status = 201, body = Session), (status = 401, body = crate::error::Problem)))]
pub async fn create_session(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<(StatusCode, ApiJson<Session>), ApiError> {
    let session = login(&state, &req.email, &req.password).await?;
    Ok((StatusCode::CREATED, ApiJson(session)))
}

/// Checks a console user's password and issues a session token (also used by the console's
/// login form). Unknown email, disabled user and wrong password get the same answer, in about
/// the same time.
pub async fn login(state: &AppState, email: &str, password_given: &str) -> Result<Session, ApiError> {
    let refused = || ApiError::unauthorized("the email or password is wrong");
    let mut conn = state.pool().acquire().await.map_err(ApiError::internal)?;
    let user = console_users::find_by_email(&mut conn, email.trim()).await?;
    drop(conn);
    let Some(user) = user.filter(|u| !u.disabled) else {
        password::burn_time(password_given);
        return Err(refused());
    };
    if !password::verify(password_given, &user.password_hash) {
        return Err(refused());
    }
    let role = Role::parse(&user.role).ok_or_else(|| ApiError::internal(format!("unknown role {}", user.role)))?;
    let (token, expires_at) = state
        .jwt()
        .issue(user.id, role, user.merchant_id, state.clock().now())?;
    Ok(Session {
        token,
        expires_at,
        role,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: String,
    pub role: Role,
    pub merchant_id: Option<String>,
}

/// Who the session belongs to.
#[utoipa::path(get, path = "/v1/console/me", tag = "console", security(("console_session" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub async fn me(auth: crate::auth::ConsoleAuth) -> ApiJson<Me> {
    ApiJson(Me {
        user_id: auth.user_id.to_string(),
        role: auth.role,
        merchant_id: auth.merchant_id.map(|m| m.to_string()),
    })
}
