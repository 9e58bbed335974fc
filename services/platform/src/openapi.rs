//! The OpenAPI 3.1 document, generated from the handlers' annotations. It is served at
//! `/openapi.json` and committed as docs/api/openapi.json (a test keeps the copy fresh).

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Corridor API",
        description = "Cross-border stablecoin payments: invoices, payouts, compliance, reconciliation and yield. \
                       Errors are application/problem+json with a stable `code`. Amounts are decimal strings with the asset named.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "merchant", description = "The authenticated merchant, its API keys and balances"),
        (name = "console", description = "Console sessions for staff and merchant admins"),
        (name = "sandbox", description = "Test money, dev profile only"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("cor_sk_...")
                    .description(Some("A merchant API key"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "console_session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A console session token from POST /v1/console/sessions"))
                    .build(),
            ),
        );
    }
}
