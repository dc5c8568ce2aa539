//! API keys from configuration: `role:key` entries, kept only as SHA-256 hashes after
//! start-up and looked up with a constant-time comparison.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// The shortest key accepted, in characters (e.g. `openssl rand -base64 32` gives 44).
pub const MIN_KEY_LEN: usize = 32;
/// The longest key accepted (and the longest bearer token hashed at all).
pub const MAX_KEY_LEN: usize = 256;

/// What a key may do (see `docs/security.md` for the table of operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// The Telegram bot: acts for users (`X-Acting-User`), who may act only on what they own.
    Bot,
    /// The admin panel: everything, with no ownership checks.
    Admin,
    /// Read-only dashboards: every `GET`.
    Viewer,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "bot" => Some(Self::Bot),
            "admin" => Some(Self::Admin),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A short name of a key that is safe to log and to use in rate-limiter keys: the first 8
/// bytes of its SHA-256, in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A key configuration that cannot be used. Never quotes a key (nor anything that might be one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyConfigError {
    #[error("API key entry {entry}: expected `role:key`")]
    Malformed { entry: usize },
    #[error("API key entry {entry}: unknown role (expected bot, admin or viewer)")]
    UnknownRole { entry: usize },
    #[error(
        "API key entry {entry} ({role}): a key must be {MIN_KEY_LEN} to {MAX_KEY_LEN} printable ASCII characters, without spaces or commas"
    )]
    BadKey { entry: usize, role: KeyRole },
    #[error("API key entry {entry}: the same key is listed twice")]
    Duplicate { entry: usize },
}

#[derive(Clone, Copy)]
struct Entry {
    hash: [u8; 32],
    role: KeyRole,
}

/// The configured keys (their hashes only). Empty means "no keys": the API is open, and
/// [`crate::check_exposure`] keeps it on loopback.
#[derive(Clone, Default)]
pub struct ApiKeys {
    entries: Vec<Entry>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |r| self.entries.iter().filter(|e| e.role == r).count();
        f.debug_struct("ApiKeys")
            .field("bot", &count(KeyRole::Bot))
            .field("admin", &count(KeyRole::Admin))
            .field("viewer", &count(KeyRole::Viewer))
            .finish()
    }
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn well_formed(key: &str) -> bool {
    (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

impl ApiKeys {
    /// Parses `role:key` entries separated by commas or new lines; empty lines and lines
    /// starting with `#` are skipped (the `API_KEYS` variable and the `API_KEYS_FILE` file
    /// use the same format). A role may have several keys (e.g. while rotating them).
    ///
    /// # Errors
    /// An entry without a colon, with an unknown role, with a key that is too short or too
    /// long or has spaces, or a key listed twice.
    pub fn parse(spec: &str) -> Result<Self, KeyConfigError> {
        let mut keys = Self::default();
        let entries = spec
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let n = i + 1;
            let (role, key) = entry.split_once(':').ok_or(KeyConfigError::Malformed { entry: n })?;
            let role = KeyRole::parse(role.trim()).ok_or(KeyConfigError::UnknownRole { entry: n })?;
            let key = key.trim();
            if !well_formed(key) {
                return Err(KeyConfigError::BadKey { entry: n, role });
            }
            let hash = sha256(key);
            if keys.entries.iter().any(|e| e.hash == hash) {
                return Err(KeyConfigError::Duplicate { entry: n });
            }
            keys.entries.push(Entry { hash, role });
        }
        Ok(keys)
    }

    /// Adds the keys of `other` (e.g. `API_KEYS_FILE` after `API_KEYS`).
    ///
    /// # Errors
    /// A key of `other` is already here (reported under `other`'s entry number).
    pub fn merge(mut self, other: Self) -> Result<Self, KeyConfigError> {
        for (i, e) in other.entries.into_iter().enumerate() {
            if self.entries.iter().any(|mine| mine.hash == e.hash) {
                return Err(KeyConfigError::Duplicate { entry: i + 1 });
            }
            self.entries.push(e);
        }
        Ok(self)
    }

    /// No key configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The role and id of a presented key, if it is one of ours. Every stored hash is
    /// compared in constant time, and all of them are compared whatever matches.
    pub fn identify(&self, presented: &str) -> Option<(KeyRole, KeyId)> {
        if presented.is_empty() || presented.len() > MAX_KEY_LEN {
            return None;
        }
        let hash = sha256(presented);
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(&hash)) {
                found = Some(e.role);
            }
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash[..8]);
        found.map(|role| (role, KeyId(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "bot-key-0123456789abcdef0123456789";
    const ADMIN: &str = "admin-key-0123456789abcdef012345678";

    #[test]
    fn each_key_is_identified_with_its_role() {
        let keys = ApiKeys::parse(&format!("bot:{BOT}, admin:{ADMIN}")).unwrap();
        assert_eq!(keys.identify(BOT).map(|(r, _)| r), Some(KeyRole::Bot));
        assert_eq!(keys.identify(ADMIN).map(|(r, _)| r), Some(KeyRole::Admin));
        assert_eq!(keys.identify("bot-key-0123456789abcdef012345678X"), None);
        assert_eq!(keys.identify(""), None);
    }

    #[test]
    fn a_file_has_one_entry_a_line_and_comments() {
        let keys = ApiKeys::parse(&format!("# the bot\nbot:{BOT}\n\nviewer:{ADMIN}\n")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.identify(ADMIN).map(|(r, _)| r), Some(KeyRole::Viewer));
    }

    #[test]
    fn errors_name_the_entry_and_never_the_key() {
        let cases = [
            (format!("bot:{BOT},{ADMIN}"), KeyConfigError::Malformed { entry: 2 }),
            (format!("root:{BOT}"), KeyConfigError::UnknownRole { entry: 1 }),
            ("bot:short-key".to_owned(), KeyConfigError::BadKey { entry: 1, role: KeyRole::Bot }),
            (format!("bot:{BOT},admin:{BOT}"), KeyConfigError::Duplicate { entry: 2 }),
        ];
        for (spec, expected) in cases {
            let e = ApiKeys::parse(&spec).unwrap_err();
            assert_eq!(e, expected);
            assert!(!e.to_string().contains("0123456789"), "{e}");
        }
    }

    #[test]
    fn debug_counts_keys_and_shows_none() {
        let keys = ApiKeys::parse(&format!("bot:{BOT}")).unwrap();
        let d = format!("{keys:?}");
        assert!(d.contains("bot: 1") && !d.contains("0123456789"), "{d}");
    }

    #[test]
    fn the_key_id_is_stable_and_not_the_key() {
        let keys = ApiKeys::parse(&format!("bot:{BOT}")).unwrap();
        let (_, a) = keys.identify(BOT).unwrap();
        let (_, b) = keys.identify(BOT).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string().len(), 16);
        assert!(!BOT.contains(&a.to_string()));
    }

    #[test]
    fn merging_refuses_a_key_listed_in_both() {
        let a = ApiKeys::parse(&format!("bot:{BOT}")).unwrap();
        let b = ApiKeys::parse(&format!("admin:{BOT}")).unwrap();
        assert_eq!(a.merge(b).unwrap_err(), KeyConfigError::Duplicate { entry: 1 });
    }
}
