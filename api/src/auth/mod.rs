//! Access control: API keys with roles ([`keys`]), the middleware that identifies the caller
//! and refuses one without a valid key ([`caller`]), and the extractor each operation declares
//! with the roles it admits, plus the ownership checks of a `bot` acting for a user ([`access`]).

pub mod access;
pub mod caller;
pub mod keys;

pub use access::{ACTING_USER, Actor, Admins, Auth, Readers, Writers};
pub use caller::{Authenticate, Caller, RequireKey, is_probe};
pub use keys::{ApiKeys, KeyConfigError, KeyId, KeyRole};
