//! The admin's password, kept only as an argon2 PHC string (`$argon2id$v=19$…`).

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc},
};

/// A parsed argon2 PHC string. `Debug` does not show it.
#[derive(Clone)]
pub struct PasswordHash(phc::PasswordHash);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// # Errors
    /// Not a PHC string, or not an argon2 one (the reason never repeats the input).
    pub fn parse(s: &str) -> Result<Self, String> {
        let h = phc::PasswordHash::new(s).map_err(|e| format!("not a PHC password hash string ({e})"))?;
        if !h.algorithm.as_str().starts_with("argon2") {
            return Err(format!("expected an argon2 hash, got {}", h.algorithm.as_str()));
        }
        if h.salt.is_none() || h.hash.is_none() {
            return Err("the hash has no salt or no output".into());
        }
        Ok(Self(h))
    }

    /// Whether `password` matches (argon2 with the parameters stored in the hash).
    pub fn verify(&self, password: &str) -> bool {
        Argon2::default().verify_password(password.as_bytes(), &self.0).is_ok()
    }

    /// The PHC string.
    pub fn as_phc(&self) -> String {
        self.0.to_string()
    }
}

/// Hashes `password` with argon2id, the default parameters and a random salt.
///
/// # Errors
/// The operating system's random generator failed.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = PasswordHash::parse(&hash_password("correct horse").unwrap()).unwrap();
        assert!(h.verify("correct horse"));
        assert!(!h.verify("correct horse "));
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_salt() {
        assert_ne!(hash_password("pw").unwrap(), hash_password("pw").unwrap());
    }

    #[test]
    fn a_non_argon2_phc_string_is_refused() {
        let e = PasswordHash::parse("$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo").unwrap_err();
        assert!(e.contains("argon2"), "{e}");
    }

    #[test]
    fn the_generated_hash_is_argon2id() {
        assert!(hash_password("pw").unwrap().starts_with("$argon2id$"));
    }
}
