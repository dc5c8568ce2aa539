//! The session cookie: set at login, read on every request, cleared at logout. The cookie
//! holds the session's secret token; the session store keeps only its hash.

use goodrobot_domain::UserId;
use goodrobot_ports::SessionToken;
use poem::Request;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gr_monitor_session";
/// The login form's double-submit cookie (CSRF protection before there is a session).
pub const LOGIN_COOKIE: &str = "gr_monitor_login";
/// The user id sessions of the monitor's admin are stored under (no real user has id 0).
pub const ADMIN_USER_ID: UserId = UserId(0);

/// The value of cookie `name` in the request, if sent.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// The session token the request carries, if it has a well-formed one.
pub fn session_token(req: &Request) -> Option<SessionToken> {
    cookie(req, SESSION_COOKIE).and_then(|v| SessionToken::parse(&v).ok())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` when configured,
/// `Max-Age` in seconds (0 deletes the cookie).
pub fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Max-Age={max_age_secs}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_and_site_wide() {
        let c = set_cookie(SESSION_COOKIE, "t", 60, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"), "{c}");
        assert!(!c.contains("Secure"));
        assert!(set_cookie(SESSION_COOKIE, "t", 60, true).ends_with("; Secure"));
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let req = Request::builder().header("cookie", "a=1; gr_monitor_session=xyz; b=2").finish();
        assert_eq!(cookie(&req, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&req, "missing"), None);
    }
}
