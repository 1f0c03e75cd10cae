//! The gateway on the wire: a form-urlencoded POST (UTF-8) and a bounded body read. Transport failures and HTTP 5xx
//! are [`AlipayError::Unavailable`]; nothing here logs the parameters or the answer.

use super::{AlipayClient, AlipayError};
use reqwest::header::{HeaderValue, CONTENT_TYPE};

/// Gateway answers are small JSON documents; anything far larger is not one.
const MAX_BODY_BYTES: usize = 256 * 1024;
const FORM_UTF8: &str = "application/x-www-form-urlencoded;charset=utf-8";

impl AlipayClient {
    /// POSTs the parameters as a form and returns the body text.
    pub(super) async fn post_form(&self, params: &[(String, String)]) -> Result<String, AlipayError> {
        let mut response = self
            .http
            .post(&self.gateway_url)
            // Set before `.form()`, which keeps a content type already present.
            .header(CONTENT_TYPE, HeaderValue::from_static(FORM_UTF8))
            .form(params)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(AlipayError::Unavailable(format!("HTTP {}", status.as_u16())));
        }
        if !status.is_success() {
            return Err(AlipayError::MalformedResponse(format!("HTTP {}", status.as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(AlipayError::MalformedResponse(format!("the body exceeds {MAX_BODY_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| AlipayError::MalformedResponse("the body is not UTF-8".into()))
    }
}

fn transport_error(error: reqwest::Error) -> AlipayError {
    let what = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        format!("transport error: {}", error.without_url())
    };
    AlipayError::Unavailable(what)
}
