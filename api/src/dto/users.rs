//! Users on the wire: what a request may send and what a response returns.

use goodrobot_domain::{NewUser, PersonName, Phone, Role, TgId, User, UserPatch};
use poem_openapi::{Enum, Object, types::MaybeUndefined};
use serde::Deserialize;

use super::Timestamp;
use crate::problem::{Checks, Problem};

/// What a user is on the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "Role", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    Client,
    Master,
    Partner,
    Admin,
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Client => Role::Client,
            RoleDto::Master => Role::Master,
            RoleDto::Partner => Role::Partner,
            RoleDto::Admin => Role::Admin,
        }
    }
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Client => RoleDto::Client,
            Role::Master => RoleDto::Master,
            Role::Partner => RoleDto::Partner,
            Role::Admin => RoleDto::Admin,
        }
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "User")]
pub struct UserDto {
    pub id: i64,
    /// Telegram user id (unique).
    pub tg_id: i64,
    pub role: RoleDto,
    pub name: String,
    /// E.164 phone number (unique), or null.
    pub phone: Option<String>,
    pub is_active: bool,
    pub created_at: Timestamp,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id.0,
            tg_id: u.tg_id.get(),
            role: u.role.into(),
            name: u.name.as_str().to_owned(),
            phone: u.phone.map(String::from),
            is_active: u.is_active,
            created_at: u.created_at.into(),
        }
    }
}

/// A user to create.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "CreateUser", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Telegram user id: a positive integer, unique.
    pub tg_id: i64,
    pub role: RoleDto,
    /// 1 to 100 characters.
    pub name: String,
    /// E.164, e.g. `+79991234567`; unique.
    pub phone: Option<String>,
}

impl CreateUser {
    /// # Errors
    /// 422 naming every invalid field.
    pub fn into_domain(self) -> Result<NewUser, Problem> {
        let mut c = Checks::default();
        let tg_id = c.check(TgId::new(self.tg_id));
        let name = c.check(PersonName::new(&self.name));
        let phone = c.check(self.phone.as_deref().map(Phone::new).transpose());
        let (Some(tg_id), Some(name), Some(phone)) = (tg_id, name, phone) else {
            return Err(c.problem());
        };
        Ok(NewUser { tg_id, role: self.role.into(), name, phone })
    }
}

/// A change to a user: only the fields given change; `"phone": null` clears the phone.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "UpdateUser", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    #[serde(default)]
    pub phone: MaybeUndefined<String>,
    pub role: Option<RoleDto>,
    pub is_active: Option<bool>,
}

impl UpdateUser {
    /// # Errors
    /// 422 naming every invalid field.
    pub fn into_domain(self) -> Result<UserPatch, Problem> {
        let mut c = Checks::default();
        let name = c.check(self.name.as_deref().map(PersonName::new).transpose());
        let phone = match self.phone {
            MaybeUndefined::Undefined => Some(None),
            MaybeUndefined::Null => Some(Some(None)),
            MaybeUndefined::Value(p) => c.check(Phone::new(&p)).map(|p| Some(Some(p))),
        };
        let (Some(name), Some(phone)) = (name, phone) else {
            return Err(c.problem());
        };
        Ok(UserPatch { name, phone, role: self.role.map(Role::from), is_active: self.is_active })
    }
}

/// A page of users in id order.
#[derive(Debug, Clone, Object)]
#[oai(rename = "UserPage")]
pub struct UserPage {
    pub items: Vec<UserDto>,
    /// Pass as `after` to read the next page; null on the last page.
    pub next_after: Option<i64>,
}
