//! Failures asked of a simulated endpoint (`POST .../failures`, `POST .../message-failures`): the next `count` calls
//! fail, so that tests and the demo can watch ebill retry.

use super::platforms::lock;
use crate::error::ApiError;
use serde::Deserialize;
use std::sync::Mutex;

/// Failures that can be asked for at once.
pub const MAX_PENDING_FAILURES: u64 = 100_000;

/// The next `count` sends fail with `code` (a WeChat errcode; Alipay's switch ignores it).
#[derive(Default)]
pub struct FailureSwitch {
    pending: Mutex<(u64, i64)>,
}

impl FailureSwitch {
    /// Arms the switch, replacing any failures still pending.
    pub fn arm(&self, count: u64, code: i64) {
        *lock(&self.pending) = (count, code);
    }

    /// Takes one pending failure: its code when this send must fail.
    pub fn take(&self) -> Option<i64> {
        let mut pending = lock(&self.pending);
        let left = pending.0.checked_sub(1)?;
        pending.0 = left;
        Some(pending.1)
    }

    pub fn pending(&self) -> u64 {
        lock(&self.pending).0
    }
}

/// The body of `POST .../message-failures` and `POST /sandbox/sms/failures`.
#[derive(Deserialize)]
pub struct FailuresRequest {
    pub count: u64,
    #[serde(default)]
    pub errcode: Option<i64>,
}

/// A failure count as the switches accept it.
pub fn check_failure_count(count: u64) -> Result<(), ApiError> {
    if count > MAX_PENDING_FAILURES {
        return Err(ApiError::bad_request(
            "INVALID_COUNT",
            format!("`count` must be between 0 and {MAX_PENDING_FAILURES}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_fails_the_next_sends_only() {
        let switch = FailureSwitch::default();
        assert_eq!(switch.take(), None);
        switch.arm(2, 40001);
        assert_eq!(switch.take(), Some(40001));
        assert_eq!(switch.pending(), 1);
        assert_eq!(switch.take(), Some(40001));
        assert_eq!(switch.take(), None);
    }

    #[test]
    fn counts_beyond_the_bound_are_refused() {
        assert!(check_failure_count(MAX_PENDING_FAILURES).is_ok());
        assert!(check_failure_count(MAX_PENDING_FAILURES + 1).is_err());
    }
}
