//! Pure types and rules of the electricity-billing domain. Nothing here does I/O or depends on other ebill modules:
//! values are parsed and validated at the edge into these types, and everything inside takes the parsed type.

pub mod account;
pub mod assessment;
pub mod bill;
pub mod binding_proof;
pub mod calendar;
pub mod feed;
pub mod late_fee;
pub mod masking;
pub mod message;
pub mod money;
pub mod order;
pub mod refund;
pub mod staff;
pub mod tariff;
pub mod user;
