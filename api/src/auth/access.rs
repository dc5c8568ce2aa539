//! What an operation admits: the [`Auth`] extractor each protected operation declares, with
//! the roles it admits as a type (which also puts them in the OpenAPI document as the
//! operation's security requirements), and the ownership checks of a `bot` key acting for a
//! user ([`Actor`]).

use goodrobot_domain::UserId;
use poem::{Request, RequestBody, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaSecurityScheme, Registry},
};
use std::marker::PhantomData;

use super::{
    caller::{Caller, unauthorized},
    keys::KeyRole,
};
use crate::problem::Problem;

/// The header a `bot` key names the user it acts for with (their GoodRobot user id).
pub const ACTING_USER: &str = "X-Acting-User";

/// A set of roles an operation admits.
pub trait Roles: Send + Sync + 'static {
    const ROLES: &'static [KeyRole];
}

/// Every key: `viewer`, `bot`, `admin` (the reads).
#[derive(Debug)]
pub struct Readers;
/// `bot` (acting for a user, on what the user owns) and `admin`.
#[derive(Debug)]
pub struct Writers;
/// `admin` only.
#[derive(Debug)]
pub struct Admins;

impl Roles for Readers {
    const ROLES: &'static [KeyRole] = &[KeyRole::Admin, KeyRole::Bot, KeyRole::Viewer];
}
impl Roles for Writers {
    const ROLES: &'static [KeyRole] = &[KeyRole::Admin, KeyRole::Bot];
}
impl Roles for Admins {
    const ROLES: &'static [KeyRole] = &[KeyRole::Admin];
}

/// The OpenAPI security scheme of a role: one bearer scheme per role, so that an
/// operation's `security` lists exactly the roles it admits.
pub fn scheme_name(role: KeyRole) -> &'static str {
    match role {
        KeyRole::Admin => "AdminKey",
        KeyRole::Bot => "BotKey",
        KeyRole::Viewer => "ViewerKey",
    }
}

fn scheme_description(role: KeyRole) -> &'static str {
    match role {
        KeyRole::Admin => "An API key of role `admin` (`Authorization: Bearer <key>`): every operation.",
        KeyRole::Bot => {
            "An API key of role `bot` (`Authorization: Bearer <key>`): reads, and writes for the user named by \
             `X-Acting-User` on what that user owns."
        }
        KeyRole::Viewer => "An API key of role `viewer` (`Authorization: Bearer <key>`): reads only.",
    }
}

/// The caller of an operation that admits the roles `R`: 401 without a valid key, 403
/// `forbidden` for a key of another role.
pub struct Auth<R> {
    caller: Caller,
    roles: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Auth<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("caller", &self.caller).finish()
    }
}

impl<R: Roles> Auth<R> {
    /// Checks `caller` against `R`.
    ///
    /// # Errors
    /// 401 without a valid key; 403 `forbidden` for a role that `R` does not admit.
    pub fn check(caller: Caller) -> Result<Self, Problem> {
        let Some(role) = caller.role() else {
            return Err(unauthorized(caller));
        };
        if !R::ROLES.contains(&role) {
            let admitted = R::ROLES.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(" or ");
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("a key of role `{role}` may not do this; it needs {admitted}"),
            ));
        }
        Ok(Self { caller, roles: PhantomData })
    }
}

impl<R> Auth<R> {
    /// An admin key (or no keys configured at all): no ownership checks.
    pub fn is_admin(&self) -> bool {
        self.caller.role() == Some(KeyRole::Admin)
    }

    /// Who the request acts as, given its `X-Acting-User` header. Only a `bot` key is bound
    /// by it; an admin is not, whatever the header says.
    pub fn actor(&self, acting_user: Option<i64>) -> Actor {
        match self.caller.role() {
            Some(KeyRole::Admin) => Actor::Anyone,
            Some(KeyRole::Bot) => acting_user.map_or(Actor::Nobody, |id| Actor::User(UserId(id))),
            Some(KeyRole::Viewer) | None => Actor::Nobody,
        }
    }

    /// 403 `forbidden` naming `field` unless the caller is an admin.
    ///
    /// # Errors
    /// The caller is not an admin.
    pub fn require_admin_for(&self, field: &str) -> Result<(), Problem> {
        if self.is_admin() {
            return Ok(());
        }
        Err(Problem::new(StatusCode::FORBIDDEN, "forbidden", format!("only an `admin` key may set `{field}`"))
            .with_field(field))
    }
}

/// Whom a write acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An admin: may act on anything.
    Anyone,
    /// A `bot` key acting for this user: may act only on what the user owns.
    User(UserId),
    /// A `bot` key that named no user: may not act on anything owned.
    Nobody,
}

impl Actor {
    /// True when no ownership check applies (so the owner need not even be looked up).
    pub fn is_anyone(self) -> bool {
        self == Self::Anyone
    }

    /// Allows the request if the actor is `owner` (or anyone).
    ///
    /// # Errors
    /// 403 `acting_user_required` when a `bot` key named no user; 403 `not_owner` (naming
    /// `field`, the request field that names the owner, if any) for another user.
    pub fn must_be(self, owner: UserId, field: Option<&str>) -> Result<(), Problem> {
        self.must_be_one_of(&[owner], field)
    }

    /// Like [`Self::must_be`], for something with several owners (an order's client and master).
    ///
    /// # Errors
    /// As [`Self::must_be`].
    pub fn must_be_one_of(self, owners: &[UserId], field: Option<&str>) -> Result<(), Problem> {
        match self {
            Self::Anyone => Ok(()),
            Self::User(u) if owners.contains(&u) => Ok(()),
            Self::User(u) => {
                let p = Problem::new(
                    StatusCode::FORBIDDEN,
                    "not_owner",
                    format!("user {u} (`{ACTING_USER}`) may not act on what belongs to another user"),
                );
                Err(match field {
                    Some(f) => p.with_field(f),
                    None => p,
                })
            }
            Self::Nobody => Err(Problem::new(
                StatusCode::FORBIDDEN,
                "acting_user_required",
                format!("a `bot` key must name the user it acts for in `{ACTING_USER}`"),
            )
            .with_field(ACTING_USER)),
        }
    }
}

impl<'a, R: Roles> ApiExtractor<'a> for Auth<R> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        for &role in R::ROLES {
            registry.create_security_scheme(
                scheme_name(role),
                MetaSecurityScheme {
                    ty: "http",
                    description: Some(scheme_description(role)),
                    name: None,
                    key_in: None,
                    scheme: Some("bearer"),
                    bearer_format: Some("API key"),
                    flows: None,
                    openid_connect_url: None,
                },
            );
        }
    }

    fn security_schemes() -> Vec<&'static str> {
        R::ROLES.iter().map(|&r| scheme_name(r)).collect()
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        // Without the authentication middleware there is no caller: fail closed.
        let caller = request.extensions().get::<Caller>().copied().unwrap_or(Caller::Anonymous);
        Ok(Self::check(caller)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::{ApiKeys, KeyRole};

    fn key(role: KeyRole) -> Caller {
        let k = "k".repeat(40);
        let (_, id) = ApiKeys::parse(&format!("{role}:{k}")).unwrap().identify(&k).unwrap();
        Caller::Key { role, id }
    }

    #[test]
    fn a_role_outside_the_set_is_a_403_forbidden() {
        let e = Auth::<Admins>::check(key(KeyRole::Bot)).unwrap_err();
        assert_eq!((e.status(), e.body().code.as_str()), (StatusCode::FORBIDDEN, "forbidden"));
        assert!(Auth::<Readers>::check(key(KeyRole::Viewer)).is_ok());
    }

    #[test]
    fn no_key_is_a_401() {
        assert_eq!(Auth::<Readers>::check(Caller::Anonymous).unwrap_err().status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn the_open_api_acts_as_an_admin() {
        let a = Auth::<Admins>::check(Caller::Open).unwrap();
        assert_eq!(a.actor(Some(5)), Actor::Anyone);
    }

    #[test]
    fn a_bot_acts_only_for_the_named_user() {
        let a = Auth::<Writers>::check(key(KeyRole::Bot)).unwrap();
        assert!(a.actor(Some(5)).must_be(UserId(5), None).is_ok());
        let e = a.actor(Some(5)).must_be(UserId(6), Some("client_id")).unwrap_err();
        assert_eq!((e.body().code.as_str(), e.body().field.as_deref()), ("not_owner", Some("client_id")));
        assert_eq!(a.actor(None).must_be(UserId(5), None).unwrap_err().body().code, "acting_user_required");
    }
}
