//! Sessions: a random bearer token per login, of which stores keep only the SHA-256 hash,
//! with a sliding expiry and revocation one by one or all of a user's at once.

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use goodrobot_domain::UserId;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::{fmt, time::Duration};

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;
/// Characters in a token: unpadded base64url of [`TOKEN_BYTES`].
pub const TOKEN_LEN: usize = 43;

/// The secret a client presents: 256 random bits, base64url without padding.
///
/// Its `Debug` never shows the secret; [`SessionToken::expose`] is the one way to read it
/// (to hand it to the client once).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A new token from the operating system's CSPRNG (through `rand`'s thread RNG, a
    /// ChaCha CSPRNG seeded from it).
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as the client sent it.
    ///
    /// # Errors
    /// `Invalid` unless `s` is 43 base64url characters (the shape [`generate`](Self::generate)
    /// makes).
    pub fn parse(s: &str) -> Result<Self, SessionError> {
        let well_formed = s.len() == TOKEN_LEN && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == TOKEN_BYTES);
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(SessionError::Invalid("malformed session token".to_owned()))
        }
    }

    /// The secret itself: give it to the client, never log or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What stores keep instead of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// The SHA-256 of a token: safe to store, useless to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Lower-case hex (64 characters), as stores key it.
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

/// A live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    /// When it ends unless touched again.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    #[error("invalid session request: {0}")]
    Invalid(String),
}

/// Sessions keyed by the hash of their token; an expired session is gone.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a session for `user_id` lasting `ttl`; returns the token (only its hash is
    /// stored) and the session.
    ///
    /// # Errors
    /// `Invalid` for a zero `ttl`; `Unavailable` when the store cannot be reached.
    async fn create(&self, user_id: UserId, ttl: Duration) -> Result<(SessionToken, Session), SessionError>;

    /// The session of `token`, or `None` if it is unknown, expired or revoked.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn get(&self, token: &SessionToken) -> Result<Option<Session>, SessionError>;

    /// Sliding expiry: the session now ends `ttl` from now. `None` if it is already gone.
    ///
    /// # Errors
    /// `Invalid` for a zero `ttl`; `Unavailable` when the store cannot be reached.
    async fn touch(&self, token: &SessionToken, ttl: Duration) -> Result<Option<Session>, SessionError>;

    /// Ends the session; returns whether it was live.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn revoke(&self, token: &SessionToken) -> Result<bool, SessionError>;

    /// Ends every session of `user_id` (log out everywhere); returns how many were live.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    async fn revoke_all(&self, user_id: UserId) -> Result<u64, SessionError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_back() {
        let t = SessionToken::generate();
        assert_eq!(t.expose().len(), TOKEN_LEN);
        assert_eq!(SessionToken::parse(t.expose()).unwrap(), t);
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(SessionToken::generate(), SessionToken::generate());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let t = SessionToken::generate();
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn a_malformed_token_is_invalid() {
        assert!(SessionToken::parse("short").is_err());
        assert!(SessionToken::parse(&"!".repeat(TOKEN_LEN)).is_err());
    }

    #[test]
    fn the_hash_is_sha256_of_the_token_in_hex() {
        let t = SessionToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        // sha256("A" * 43)
        let expected = format!("{:x}", Sha256::digest("A".repeat(43).as_bytes()));
        assert_eq!(t.hash().to_hex(), expected);
        assert_eq!(t.hash().to_hex().len(), 64);
    }
}
