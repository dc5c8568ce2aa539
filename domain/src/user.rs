//! Users: clients who post orders, masters who bid, partners and admins.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

use crate::{UserId, ValidationError};

/// A Telegram user id: a positive integer, unique per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct TgId(i64);

impl TgId {
    /// # Errors
    /// The id must be greater than zero.
    pub fn new(v: i64) -> Result<Self, ValidationError> {
        if v <= 0 {
            return Err(ValidationError::new("tg_id", "must be a positive integer"));
        }
        Ok(Self(v))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for TgId {
    type Error = ValidationError;
    fn try_from(v: i64) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<TgId> for i64 {
    fn from(v: TgId) -> Self {
        v.0
    }
}

/// A phone number in E.164 form: `+`, a non-zero first digit, 8 to 15 digits in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// # Errors
    /// Anything but `+` followed by 8..=15 digits, the first not zero.
    pub fn new(v: &str) -> Result<Self, ValidationError> {
        let err = || ValidationError::new("phone", "must be in E.164 form, e.g. +79991234567");
        let digits = v.strip_prefix('+').ok_or_else(err)?;
        let ok =
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if !ok {
            return Err(err());
        }
        Ok(Self(v.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = ValidationError;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::new(&v)
    }
}

impl From<Phone> for String {
    fn from(v: Phone) -> Self {
        v.0
    }
}

/// Checks a trimmed, non-empty text of at most `max` characters with no control characters.
pub(crate) fn bounded_text(field: &str, v: &str, max: usize, allow_empty: bool) -> Result<String, ValidationError> {
    let t = v.trim();
    if t.is_empty() && !allow_empty {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(ValidationError::new(field, format!("must be at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(t.to_owned())
}

/// A person's display name: 1..=100 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    /// # Errors
    /// Empty, longer than 100 characters, or containing control characters.
    pub fn new(v: &str) -> Result<Self, ValidationError> {
        bounded_text("name", v, Self::MAX_CHARS, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonName {
    type Error = ValidationError;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::new(&v)
    }
}

impl From<PersonName> for String {
    fn from(v: PersonName) -> Self {
        v.0
    }
}

/// What a user is on the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Master,
    Partner,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Client, Role::Master, Role::Partner, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Master => "master",
            Role::Partner => "partner",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ValidationError::new("role", "must be one of client, master, partner, admin"))
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tg_id: TgId,
    pub role: Role,
    pub name: PersonName,
    pub phone: Option<Phone>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// # Errors
    /// `WrongRole` unless the user has `role`; `InactiveUser` if deactivated.
    pub fn require(&self, role: Role) -> Result<(), crate::DomainError> {
        if self.role != role {
            return Err(crate::DomainError::WrongRole { user_id: self.id, expected: role, actual: self.role });
        }
        if !self.is_active {
            return Err(crate::DomainError::InactiveUser { user_id: self.id });
        }
        Ok(())
    }
}

/// A user to be created (the repository assigns id and creation time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub tg_id: TgId,
    pub role: Role,
    pub name: PersonName,
    pub phone: Option<Phone>,
}

/// A partial update of a user; `phone: Some(None)` clears the phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub name: Option<PersonName>,
    pub phone: Option<Option<Phone>>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.role.is_none() && self.is_active.is_none()
    }

    /// Applies the patch to a user in place.
    pub fn apply(&self, user: &mut User) {
        if let Some(n) = &self.name {
            user.name = n.clone();
        }
        if let Some(p) = &self.phone {
            user.phone = p.clone();
        }
        if let Some(r) = self.role {
            user.role = r;
        }
        if let Some(a) = self.is_active {
            user.is_active = a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tg_id_must_be_positive() {
        assert!(TgId::new(1).is_ok());
        assert_eq!(TgId::new(0).unwrap_err().field, "tg_id");
        assert!(TgId::new(-5).is_err());
    }

    #[test]
    fn phone_must_be_e164() {
        assert!(Phone::new("+79991234567").is_ok());
        for bad in ["79991234567", "+0999123456", "+12", "+7999123456789012", "+7999-123-45", ""] {
            assert_eq!(Phone::new(bad).unwrap_err().field, "phone", "{bad}");
        }
    }

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(PersonName::new("  Ann ").unwrap().as_str(), "Ann");
        assert!(PersonName::new("   ").is_err());
        assert!(PersonName::new(&"я".repeat(101)).is_err());
        assert!(PersonName::new(&"я".repeat(100)).is_ok());
    }

    #[test]
    fn role_parses_known_names_only() {
        assert_eq!("master".parse::<Role>().unwrap(), Role::Master);
        assert_eq!("boss".parse::<Role>().unwrap_err().field, "role");
    }

    #[test]
    fn serde_rejects_invalid_values() {
        assert!(serde_json::from_str::<TgId>("0").is_err());
        assert!(serde_json::from_str::<Phone>("\"123\"").is_err());
    }
}
