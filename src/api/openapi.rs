//! The OpenAPI document of every route, served at `/openapi.json`.

use super::{ebill, front, integration, mp, notify, ops, staff};
use crate::error::ErrorBody;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
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
        mp::login::wechat_login,
        mp::login::alipay_login,
        mp::session::refresh_session,
        mp::phone::verify_phone,
        mp::bind::bind,
        mp::bindings::list,
        mp::bindings::change,
        mp::bindings::remove,
        mp::bills::list,
        mp::bills::show,
        mp::bills::account_summary,
        mp::bills::usage,
        ebill::share,
        mp::payments::create,
        mp::payments::show,
        mp::subscriptions::subscribe,
        mp::subscriptions::show,
        mp::subscriptions::update,
        notify::wechat_pay::notify,
        notify::wechat_refund::notify,
        notify::alipay::notify,
        staff::login::login,
        staff::login::logout,
        staff::login::me,
        staff::lookups::search::search,
        staff::lookups::account,
        staff::lookups::user,
        staff::lookups::order,
        staff::lookups::reveal,
        staff::actions::unbind,
        staff::actions::resend,
        staff::actions::order_query::query_order,
        staff::refunds::create,
        staff::members::list,
        staff::members::add,
        staff::members::change,
        staff::audit_log::search,
        staff::audit_log::export,
    ),
    components(schemas(ErrorBody)),
    modifiers(&FeedSignature),
    tags(
        (name = "ops", description = "Health, readiness, metrics, this document"),
        (name = "integration", description = "The utility's marketing system feeds accounts and bills"),
        (name = "customer", description = "The mini-program: login, sessions, bindings, bills, payments"),
        (name = "platforms", description = "Webhooks the payment platforms call, answered in their own formats"),
        (name = "staff", description = "The customer-service console's API: lookups, audited actions, refunds, the audit log"),
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
        components.add_security_scheme(
            "customer_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("the access token of a mini-program login (POST /api/v1/auth/*/login)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "staff_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "a staff token (POST /staff/v1/login), audience ebill-staff; the console sends it as the \
                         HttpOnly ebill_staff cookie instead",
                    ))
                    .build(),
            ),
        );
    }
}
