//! Payments: opening orders on WeChat Pay and Alipay for an account's bills (`ordering`), the platforms behind one
//! face (`channel`), applying a confirmed payment exactly once (`settlement`), asking the platforms about orders
//! whose notifies did not come (`polling`), and refunds (`refunds`). The write-back of settlements to the
//! marketing system is a job (`jobs::writeback`) queued by the settlement.

pub mod channel;
pub mod ordering;
pub mod polling;
pub mod refunds;
pub mod report;
pub mod settlement;
