//! Our own sessions after a platform login: short-lived access tokens (JWT, HS256, key ids for rotation, audience
//! pinned) and rotating refresh tokens stored as hashes, where reusing an old one revokes its whole family.

pub mod links;
pub mod passwords;
pub mod refresh;
pub mod staff_accounts;
pub mod tokens;
