//! Which platform answers to a refund request are refusals: an explicit answer that no refund was made, the only kind
//! of error that may end a refund as failed. Anything else (an answer that does not verify or cannot be read, a code
//! we do not know) leaves the refund unknown, to be asked again under the same number.

use crate::platform::alipay::AlipayError;
use crate::platform::wechatpay::WechatPayError;

/// WeChat Pay's refusals of a refund request (`POST /v3/refund/domestic/refunds`), each an answer that no refund was
/// made: a 4xx error answer with one of the codes its documentation lists for the call (a refund already made under
/// the same `out_refund_no` is answered as that refund, never refused).
const WECHAT_REFUND_REFUSALS: [&str; 8] = [
    "PARAM_ERROR",
    "INVALID_REQUEST",
    "NOT_ENOUGH",
    "NO_AUTH",
    "USER_ACCOUNT_ABNORMAL",
    "APPID_MCHID_NOT_MATCH",
    "MCH_NOT_EXISTS",
    "RESOURCE_NOT_EXISTS",
];

/// An explicit refusal of a refund by WeChat Pay: a 4xx error answer (not a rate limit) with a refusal code. Any
/// other error (an answer that fails verification or cannot be read, a code we do not know) leaves the refund
/// unknown.
///
/// An error answer whose signature is present but fails (bad, stale, unknown serial) is a
/// [`WechatPayError::BadResponse`], never a refusal. An error answer with no signature headers at all still reaches
/// here as a [`WechatPayError::Platform`] (`WechatPayClient::refund` does not pass on whether it was signed);
/// WeChat Pay signs its answer to every request it authenticated, so the refusal codes above come signed.
pub fn wechat_refused(error: &WechatPayError) -> bool {
    match error {
        WechatPayError::Platform { status, code, .. } => {
            (400..500).contains(status) && *status != 429 && WECHAT_REFUND_REFUSALS.contains(&code.as_str())
        }
        _ => false,
    }
}

/// Alipay's refusals of `alipay.trade.refund`, each a business failure (`40004`, in the method's signed node) that
/// no refund was made. `ACQ.DISCORDANT_REPEAT_REQUEST` is not one: it says a refund under the same `out_request_no`
/// exists already. `ACQ.SYSTEM_ERROR` is transient.
const ALIPAY_REFUND_REFUSALS: [&str; 11] = [
    "ACQ.TRADE_NOT_EXIST",
    "ACQ.TRADE_STATUS_ERROR",
    "ACQ.TRADE_HAS_FINISHED",
    "ACQ.TRADE_NOT_ALLOW_REFUND",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
    "ACQ.REFUND_FEE_ERROR",
    "ACQ.REASON_TRADE_REFUND_FEE_ERR",
    "ACQ.SELLER_BALANCE_NOT_ENOUGH",
    "ACQ.REASON_TRADE_BEEN_FREEZEN",
    "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND",
    "ACQ.INVALID_PARAMETER",
];

/// An explicit refusal of a refund by Alipay: a verified business failure with a refusal `sub_code`. A signature
/// that does not verify, an answer we cannot read or any other failure leaves the refund unknown.
pub fn alipay_refused(error: &AlipayError) -> bool {
    matches!(error, AlipayError::Business { code, sub_code, .. }
        if code == "40004" && ALIPAY_REFUND_REFUSALS.contains(&sub_code.as_str()))
}
