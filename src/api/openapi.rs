//! The OpenAPI document of every route, served at `/openapi.json`.

use super::{front, integration, ops};
use crate::error::ErrorBody;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ebill",
        description = "Backend of an electricity utility's WeChat and Alipay mini-programs: accounts and bills fed by \
                       the marketing system, bindings, payments and pushed messages. Every error answers \
                       `{\"code\": \"STABLE_CODE\", \"message\": \"...\"}`."
    ),
    paths(
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi_json,
        front::index,
        integration::accounts::post,
        integration::bills::post,
    ),
    components(schemas(ErrorBody)),
    modifiers(&FeedSignature),
    tags(
        (name = "ops", description = "Health, readiness, metrics, this document"),
        (name = "integration", description = "The utility's marketing system feeds accounts and bills"),
    )
)]
pub struct ApiDoc;

struct FeedSignature;

impl Modify for FeedSignature {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "feed_hmac",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Ebill-Signature",
                "hex HMAC-SHA256 over \"{X-Ebill-Timestamp}\\n{body}\" with the shared feed secret; the timestamp \
                 (Unix seconds) must be within 5 minutes of ours and a signature is served once",
            ))),
        );
    }
}
