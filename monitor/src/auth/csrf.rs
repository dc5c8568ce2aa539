//! CSRF tokens: a synchronizer token tied to the session. It is derived from the session's
//! secret token (which only the browser's HttpOnly cookie holds), so it changes with every
//! login, needs no storage, and a page on another site can neither read nor guess it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use goodrobot_ports::SessionToken;
use sha2::{Digest, Sha256};

/// The header the monitor's script sends the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field pages send it in.
pub const CSRF_FIELD: &str = "csrf_token";

/// The session's CSRF token (43 base64url characters).
pub fn token_for(session: &SessionToken) -> String {
    let mut h = Sha256::new();
    // A domain separator: the token is not the session-store hash of the same secret.
    h.update(b"goodrobot-monitor/csrf/v1\0");
    h.update(session.expose().as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Compares in time that does not depend on where the strings differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_stable_for_a_session_and_differs_between_sessions() {
        let (a, b) = (SessionToken::generate(), SessionToken::generate());
        assert_eq!(token_for(&a), token_for(&a));
        assert_ne!(token_for(&a), token_for(&b));
    }

    #[test]
    fn the_token_is_neither_the_session_token_nor_its_stored_hash() {
        let s = SessionToken::generate();
        let t = token_for(&s);
        assert_ne!(t, s.expose());
        assert_ne!(t, s.hash().to_hex());
    }

    #[test]
    fn comparison_needs_equal_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
