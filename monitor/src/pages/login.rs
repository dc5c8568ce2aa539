//! Logging in and out. The login form is protected against CSRF by a double-submit nonce
//! (a cookie and a hidden field that must match); a successful login starts a session in the
//! session store and sets its cookie.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use maud::html;
use poem::{
    Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Form, Query},
};
use rand::RngCore;
use serde::Deserialize;
use std::time::Instant;

use crate::{
    auth::{
        Authed, csrf,
        session::{ADMIN_USER_ID, LOGIN_COOKIE, SESSION_COOKIE, cookie, session_token, set_cookie},
    },
    pages::layout::{Nav, error_page, html_response, page},
    state::MonitorState,
};

/// How long a login form may be left open, in seconds.
const LOGIN_FORM_TTL_SECS: u64 = 900;

#[derive(Debug, Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    login_nonce: String,
    next: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Where to go after logging in: a path on this site, `/` otherwise (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.contains("://") => {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn redirect(to: &str) -> poem::ResponseBuilder {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to)
}

fn nonce() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn login_form(state: &MonitorState, status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let nonce = nonce();
    let body = html! {
        section.login {
            h1 { "Log in" }
            @if state.config.admin_password_hash.is_none() {
                p.flash.flash-error { "No password is configured (MONITOR_ADMIN_PASSWORD_HASH): nobody can log in." }
            }
            @if let Some(e) = error { p.flash.flash-error #login-error { (e) } }
            form #login-form method="post" action="/login" {
                input type="hidden" name="login_nonce" value=(nonce);
                input type="hidden" name="next" value=(next);
                label { "User" input #username type="text" name="username" autocomplete="username" required autofocus; }
                label { "Password" input #password type="password" name="password" autocomplete="current-password" required; }
                button #login type="submit" { "Log in" }
            }
        }
    };
    let mut resp = html_response(status, page("Log in", Nav::None, None, "login", None, body));
    let c = set_cookie(LOGIN_COOKIE, &nonce, LOGIN_FORM_TTL_SECS, state.config.cookie_secure);
    if let Ok(v) = c.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}

/// `GET /login`: the form (or the overview, for a live session).
#[handler]
pub async fn login_page(req: &Request, state: Data<&MonitorState>, q: Query<NextParam>) -> Response {
    let next = safe_next(q.next.as_deref());
    if let Some(token) = session_token(req)
        && let Ok(Some(_)) = state.deps.sessions.get(&token).await
    {
        return redirect(&next).finish();
    }
    login_form(&state, StatusCode::OK, &next, None)
}

/// Checks the credentials off the async threads (argon2 is slow on purpose). A wrong user
/// name costs the same as a wrong password.
async fn credentials_ok(state: &MonitorState, username: String, password: String) -> bool {
    let Some(hash) = state.config.admin_password_hash.clone() else { return false };
    let user_ok = csrf::same(&username, &state.config.admin_user);
    tokio::task::spawn_blocking(move || hash.verify(&password) && user_ok).await.unwrap_or(false)
}

/// `POST /login`: starts a session and goes on to `next`.
#[handler]
pub async fn login_submit(req: &Request, state: Data<&MonitorState>, form: Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    let ip = req.remote_addr().as_socket_addr().map(std::net::SocketAddr::ip);
    if let Some(wait) = state.throttle.wait(ip, Instant::now()) {
        let mut resp = error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed logins",
            "Too many failed logins from this address: wait a few minutes.",
        );
        if let Ok(v) = wait.as_secs().max(1).to_string().parse() {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    let nonce_ok = cookie(req, LOGIN_COOKIE).is_some_and(|c| csrf::same(&c, &form.login_nonce));
    if !nonce_ok {
        return login_form(&state, StatusCode::FORBIDDEN, &next, Some("The form expired. Please log in again."));
    }
    if !credentials_ok(&state, form.username.clone(), form.password.clone()).await {
        state.throttle.failed(ip, Instant::now());
        tracing::warn!(user = %form.username, "failed monitor login");
        return login_form(&state, StatusCode::UNAUTHORIZED, &next, Some("Wrong user name or password."));
    }
    state.throttle.succeeded(ip);
    let (token, _) = match state.deps.sessions.create(ADMIN_USER_ID, state.config.session_ttl).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a session");
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", "The session store is unavailable.");
        }
    };
    tracing::info!(user = %state.config.admin_user, "monitor login");
    let secure = state.config.cookie_secure;
    redirect(&next)
        .header(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, token.expose(), state.config.session_ttl.as_secs(), secure),
        )
        .header(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, secure))
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

/// `POST /logout` (behind the guard, with the CSRF field): ends the session.
#[handler]
pub async fn logout(state: Data<&MonitorState>, authed: Data<&Authed>) -> Response {
    if let Err(e) = state.deps.sessions.revoke(&authed.token).await {
        tracing::warn!(error = %e, "cannot revoke the session at logout");
    }
    redirect("/login")
        .header(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, state.config.cookie_secure))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/tasks?state=FAILURE")), "/tasks?state=FAILURE");
        for bad in ["https://evil.example/", "//evil.example/", "/\\evil.example", "tasks"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
