//! Access to the monitor: the admin's password (argon2), the session cookie, CSRF tokens
//! and the middleware that guards pages and the JSON API.

pub mod csrf;
pub mod guard;
pub mod password;
pub mod session;
pub mod throttle;

pub use guard::{Authed, Guard, GuardKind};
