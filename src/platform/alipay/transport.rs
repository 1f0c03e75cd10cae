//! The gateway on the wire: a form-urlencoded POST (UTF-8) and a bounded body read. Transport failures and HTTP 5xx
//! are [`AlipayError::Unavailable`]; nothing here logs the parameters or the answer.

use super::{AlipayClient, AlipayError};
use crate::platform::http::{send_bounded, HttpFailure};
use reqwest::header::{HeaderValue, CONTENT_TYPE};

/// Gateway answers are small JSON documents; anything far larger is not one.
const MAX_BODY_BYTES: usize = 256 * 1024;
const FORM_UTF8: &str = "application/x-www-form-urlencoded;charset=utf-8";

impl AlipayClient {
    /// POSTs the parameters as a form and returns the body text.
    pub(super) async fn post_form(&self, params: &[(String, String)]) -> Result<String, AlipayError> {
        let request = self
            .http
            .post(&self.gateway_url)
            // Set before `.form()`, which keeps a content type already present.
            .header(CONTENT_TYPE, HeaderValue::from_static(FORM_UTF8))
            .form(params);
        let body = send_bounded(request, self.timeout, MAX_BODY_BYTES).await.map_err(|failure| match failure {
            HttpFailure::Unavailable(why) => AlipayError::Unavailable(why),
            HttpFailure::Malformed(why) => AlipayError::MalformedResponse(why),
        })?;
        String::from_utf8(body).map_err(|_| AlipayError::MalformedResponse("the body is not UTF-8".into()))
    }
}
