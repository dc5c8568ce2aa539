//! Access: login with the admin's argon2 password, the session cookie, CSRF on every action,
//! logout; what an unauthenticated request gets; the open endpoints; security headers.

mod common;

use common::{PASSWORD, TestMonitor, USER, field_value};
use goodrobot_monitor::MonitorConfig;

#[tokio::test]
async fn the_login_page_is_open_and_sets_a_form_nonce() {
    let m = TestMonitor::new();
    let r = m.get_anon("/login").await;
    r.assert_status(200);
    assert!(r.text.contains(r#"<form id="login-form""#) || r.text.contains(r#"id="login-form""#), "{}", r.text);
    assert_eq!(r.cookie("gr_monitor_login"), field_value(&r.text, "login_nonce"));
}

#[tokio::test]
async fn logging_in_sets_an_http_only_same_site_strict_session_cookie() {
    let m = TestMonitor::new();
    let r = m.try_login(USER, PASSWORD).await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r.set_cookies().into_iter().find(|c| c.starts_with("gr_monitor_session=")).unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_configured() {
    let m = TestMonitor::with_config(MonitorConfig { cookie_secure: true, ..common::config() });
    let r = m.try_login(USER, PASSWORD).await;
    let cookie = r.set_cookies().into_iter().find(|c| c.starts_with("gr_monitor_session=")).unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_a_session() {
    let m = TestMonitor::new();
    let r = m.try_login(USER, "not the password").await;
    assert_eq!(r.status.as_u16(), 401);
    assert!(r.cookie("gr_monitor_session").is_none());
    assert!(r.text.contains("Wrong user name or password"), "{}", r.text);
}

#[tokio::test]
async fn a_wrong_user_name_is_refused() {
    let m = TestMonitor::new();
    assert_eq!(m.try_login("root", PASSWORD).await.status.as_u16(), 401);
}

#[tokio::test]
async fn nobody_can_log_in_without_a_configured_hash() {
    let m = TestMonitor::with_config(MonitorConfig { admin_password_hash: None, ..common::config() });
    assert_eq!(m.try_login(USER, PASSWORD).await.status.as_u16(), 401);
}

#[tokio::test]
async fn a_login_post_without_the_form_nonce_cookie_is_refused() {
    let m = TestMonitor::new();
    let body = format!("username={USER}&password={}&login_nonce=forged", common::urlencode(PASSWORD));
    let resp = m.client.post("/login").content_type("application/x-www-form-urlencoded").body(body).send().await;
    resp.assert_status(poem::http::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logging_in_goes_on_to_the_page_asked_for_but_never_off_site() {
    let m = TestMonitor::new();
    let page = m.get_anon("/login?next=%2Ftasks%3Fstate%3DFAILURE").await;
    assert_eq!(field_value(&page.text, "next").as_deref(), Some("/tasks?state=FAILURE"));
    let evil = m.get_anon("/login?next=https%3A%2F%2Fevil.example%2F").await;
    assert_eq!(field_value(&evil.text, "next").as_deref(), Some("/"));
}

#[tokio::test]
async fn too_many_failed_logins_make_the_address_wait() {
    let m = TestMonitor::new();
    for _ in 0..goodrobot_monitor::auth::throttle::MAX_FAILURES {
        assert_eq!(m.try_login(USER, "guess").await.status.as_u16(), 401);
    }
    let r = m.try_login(USER, PASSWORD).await;
    assert_eq!(r.status.as_u16(), 429, "{}", r.text);
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn pages_redirect_to_the_login_without_a_session() {
    let m = TestMonitor::new();
    for (path, next) in [("/", "/"), ("/tasks?state=FAILURE", "/tasks%3Fstate%3DFAILURE")] {
        let r = m.get_anon(path).await;
        assert_eq!(r.status.as_u16(), 303, "{path}");
        assert_eq!(r.header("location"), Some(format!("/login?next={next}").as_str()), "{path}");
    }
}

#[tokio::test]
async fn the_api_answers_401_problem_json_without_a_session() {
    let m = TestMonitor::new();
    for path in ["/api/overview", "/api/workers", "/api/queues", "/api/tasks", "/api/session"] {
        m.get_anon(path).await.assert_problem(401, "unauthenticated");
    }
}

#[tokio::test]
async fn an_unknown_session_token_is_401() {
    let m = TestMonitor::new();
    let forged = common::Session {
        cookie: format!("gr_monitor_session={}", goodrobot_ports::SessionToken::generate().expose()),
        csrf: String::new(),
    };
    m.get(&forged, "/api/overview").await.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn an_action_without_the_csrf_header_is_403() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    m.post_without_csrf(&s, &format!("/api/tasks/{id}/revoke")).await.assert_problem(403, "csrf_failed");
    assert_eq!(m.record(id).await.state, goodrobot_domain::task::TaskState::Pending);
}

#[tokio::test]
async fn an_action_with_another_sessions_csrf_token_is_403() {
    let m = TestMonitor::new();
    let (a, b) = (m.login().await, m.login().await);
    let id = m.noop(1).await;
    let crossed = common::Session { csrf: b.csrf.clone(), ..a };
    m.post(&crossed, &format!("/api/tasks/{id}/revoke")).await.assert_problem(403, "csrf_failed");
}

#[tokio::test]
async fn a_page_form_without_the_csrf_field_is_refused() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    let r = m.post_form(&s, &format!("/tasks/{id}/revoke"), &[]).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);
    assert_eq!(m.record(id).await.state, goodrobot_domain::task::TaskState::Pending);
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let r = m.post_form(&s, "/logout", &[("csrf_token", &s.csrf)]).await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert_eq!(r.cookie("gr_monitor_session").as_deref(), Some(""));
    m.get(&s, "/api/overview").await.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn logging_out_needs_the_csrf_token() {
    let m = TestMonitor::new();
    let s = m.login().await;
    assert_eq!(m.post_form(&s, "/logout", &[]).await.status.as_u16(), 403);
    m.get(&s, "/api/overview").await.assert_status(200);
}

#[tokio::test]
async fn health_is_open() {
    let m = TestMonitor::new();
    assert_eq!(m.get_anon("/health").await.assert_status(200)["status"], "ok");
}

#[tokio::test]
async fn metrics_are_open() {
    let m = TestMonitor::new();
    let r = m.get_anon("/metrics").await;
    r.assert_status(200);
    assert!(r.content_type().starts_with("text/plain; version=0.0.4"), "{}", r.content_type());
}

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let r = m.get(&s, "/").await;
    r.assert_status(200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn pages_have_no_inline_script() {
    let m = TestMonitor::new();
    let s = m.login().await;
    for path in ["/", "/tasks", "/login"] {
        let text = if path == "/login" { m.get_anon(path).await.text } else { m.get(&s, path).await.text };
        assert_eq!(text.matches("<script").count(), 1, "{path}");
        assert!(text.contains(r#"<script src="/static/monitor.js" defer></script>"#), "{path}");
        assert!(!text.contains(" style="), "{path}: inline style");
    }
}
