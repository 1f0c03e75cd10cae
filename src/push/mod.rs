//! Pushed messages: new bills announced to every user bound to the account (`announce`), reminders before and
//! after the due date with an SMS when no mini-program user can be reached (`reminders`), notices of payments and
//! refunds (`notices`), all written as rows of the durable `messages` queue by `compose`, and delivered by
//! concurrent workers within each platform's rate limit (`delivery`, `rate_limit`).

pub mod announce;
pub mod compose;
pub mod delivery;
pub mod notices;
pub mod rate_limit;
pub mod reminders;
pub mod report;
pub mod scheduler;
