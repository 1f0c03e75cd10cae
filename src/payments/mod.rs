//! Payments: opening orders on WeChat Pay and Alipay for an account's bills (`ordering`), the platforms behind one
//! face (`channel`), applying a confirmed payment exactly once (`settlement`), asking the platforms about orders
//! whose notifies did not come (`polling`), refunds and their job (`refunds`), how a refund ends
//! (`refund_outcomes`), which answers refuse one (`refund_refusals`), and the refunds staff ask for
//! (`staff_refunds`). The write-back of settlements and staff refunds to the marketing system is a job
//! (`jobs::writeback`) queued in the transaction that settles or ends them.

pub mod channel;
pub mod ordering;
pub mod polling;
pub mod refund_outcomes;
pub mod refund_refusals;
pub mod refunds;
pub mod report;
pub mod settlement;
pub mod staff_refunds;
