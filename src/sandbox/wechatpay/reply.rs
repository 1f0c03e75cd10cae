//! The simulated platform's answers: JSON (or nothing, for 204) signed over `TIMESTAMP\nNONCE\nBODY\n` with its key,
//! carried in the `Wechatpay-*` headers, as WeChat Pay signs every answer to a request it could authenticate (the
//! sandbox signs its refusals too).

use crate::error::ApiError;
use crate::platform::wechatpay::{sign_body, signature_nonce};
use crate::sandbox::keys::SANDBOX_WECHATPAY_PUBLIC_KEY_ID;
use crate::sandbox::platforms::SandboxPlatforms;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Value};

/// An answer before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reply {
    pub status: StatusCode,
    pub body: String,
}

impl Reply {
    pub fn ok(body: &Value) -> Reply {
        Reply { status: StatusCode::OK, body: body.to_string() }
    }

    pub fn no_content() -> Reply {
        Reply { status: StatusCode::NO_CONTENT, body: String::new() }
    }

    /// An error answer `{"code": .., "message": ..}`.
    pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reply {
        Reply { status, body: json!({ "code": code, "message": message.into() }).to_string() }
    }

    /// 400 `PARAM_ERROR`: a field is missing or malformed.
    pub fn param_error(message: impl Into<String>) -> Reply {
        Reply::error(StatusCode::BAD_REQUEST, "PARAM_ERROR", message)
    }

    /// 400 `INVALID_REQUEST`: well-formed, but not acceptable in the current state.
    pub fn invalid_request(message: impl Into<String>) -> Reply {
        Reply::error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// The error code of an error answer, for tests and logs.
    #[cfg(test)]
    pub fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The answer with its signature headers and a `Request-ID`, signed at `now_ms`.
    pub fn sign(self, sandbox: &SandboxPlatforms, now_ms: i64) -> Result<HttpResponse, ApiError> {
        let key = &sandbox.keys.wechatpay_platform_key;
        let timestamp = now_ms.div_euclid(1000);
        let headers =
            sign_body(key, SANDBOX_WECHATPAY_PUBLIC_KEY_ID, timestamp, &signature_nonce(), self.body.as_bytes())
                .map_err(ApiError::internal)?;
        let mut response = HttpResponse::build(self.status);
        for (name, value) in headers.pairs() {
            response.insert_header((name, value));
        }
        response.insert_header(("Request-ID", super::random_hex(32)));
        if self.body.is_empty() {
            return Ok(response.finish());
        }
        Ok(response.content_type("application/json; charset=utf-8").body(self.body))
    }
}

/// The refusals of a handler and its successes take the same road: both are signed answers.
pub(super) type Answer = Result<Reply, Reply>;

/// Signs whichever way an [`Answer`] went.
pub(super) fn sign(answer: Answer, sandbox: &SandboxPlatforms, now_ms: i64) -> Result<HttpResponse, ApiError> {
    answer.unwrap_or_else(|refusal| refusal).sign(sandbox, now_ms)
}
