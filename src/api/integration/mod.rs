//! The marketing system's feed, `/integration/v1`: batches of accounts and bills, signed with the shared secret.

pub mod accounts;
mod batch;
pub mod bills;
