//! The server-rendered pages over memory adapters: what each shows, the form actions (revoke,
//! purge with its confirmation step), the static files.

mod common;

use common::TestMonitor;
use goodrobot_domain::task::TaskState;
use goodrobot_ports::services::TaskOptions;
use serde_json::json;

#[tokio::test]
async fn the_overview_shows_workers_and_queues() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.heartbeat("worker-on-page", 3, 1).await;
    let r = m.get(&s, "/").await;
    r.assert_status(200);
    assert!(r.content_type().starts_with("text/html"), "{}", r.content_type());
    assert!(r.text.contains(r#"<tr data-worker="worker-on-page" data-processed="4">"#), "{}", r.text);
    assert!(r.text.contains(r#"<tr data-queue="reports">"#), "{}", r.text);
    assert!(r.text.contains(r#"data-poll="/api/overview""#));
}

#[tokio::test]
async fn the_page_carries_the_sessions_csrf_token_for_the_script() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let r = m.get(&s, "/").await;
    assert!(r.text.contains(&format!(r#"<meta name="csrf-token" content="{}">"#, s.csrf)), "{}", r.text);
}

#[tokio::test]
async fn the_task_list_shows_each_task_with_its_state() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let (a, b) = (m.noop(1).await, m.noop(2).await);
    m.finish(a, TaskState::Failure, "w1").await;
    let r = m.get(&s, "/tasks").await;
    r.assert_status(200);
    assert!(r.text.contains(&format!(r#"<tr data-task="{a}" data-state="FAILURE">"#)), "{}", r.text);
    assert!(r.text.contains(&format!(r#"<tr data-task="{b}" data-state="PENDING">"#)), "{}", r.text);
}

#[tokio::test]
async fn the_task_list_keeps_its_filters_in_the_poll_url() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let r = m.get(&s, "/tasks?state=FAILURE&q=x%20y").await;
    assert!(r.text.contains(r#"data-poll="/api/tasks?state=FAILURE&amp;q=x%20y&amp;page=1""#), "{}", r.text);
}

#[tokio::test]
async fn a_bad_filter_shows_an_error_page() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let r = m.get(&s, "/tasks?state=DONE").await;
    assert_eq!(r.status.as_u16(), 422);
    assert!(r.text.contains("state"), "{}", r.text);
}

#[tokio::test]
async fn a_task_page_escapes_what_the_task_carries() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m
        .submit(
            "send_notification",
            json!({"user_id": 1, "message": "<script>alert(1)</script>"}),
            TaskOptions::default(),
        )
        .await;
    let r = m.get(&s, &format!("/tasks/{id}")).await;
    r.assert_status(200);
    assert!(!r.text.contains("<script>alert"), "{}", r.text);
    assert!(r.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", r.text);
}

#[tokio::test]
async fn a_waiting_tasks_page_offers_revoke_with_the_csrf_field() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    let r = m.get(&s, &format!("/tasks/{id}")).await;
    assert!(r.text.contains(&format!(r#"action="/tasks/{id}/revoke""#)), "{}", r.text);
    assert_eq!(common::field_value(&r.text, "csrf_token").as_deref(), Some(s.csrf.as_str()));
    assert!(!r.text.contains("action-replay"));
}

#[tokio::test]
async fn revoking_from_the_page_redirects_to_the_revoked_task() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    let r = m.post_form(&s, &format!("/tasks/{id}/revoke"), &[("csrf_token", &s.csrf)]).await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert_eq!(r.header("location"), Some(format!("/tasks/{id}?done=revoked").as_str()));
    let page = m.get(&s, &format!("/tasks/{id}?done=revoked")).await;
    assert!(page.text.contains(r#"<span class="state state-revoked">REVOKED</span>"#), "{}", page.text);
    assert!(page.text.contains("The task is revoked."), "{}", page.text);
}

#[tokio::test]
async fn an_unknown_task_page_is_a_404_page() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let r = m.get(&s, &format!("/tasks/{}", goodrobot_domain::task::TaskId::generate())).await;
    assert_eq!(r.status.as_u16(), 404);
    assert!(r.content_type().starts_with("text/html"));
}

#[tokio::test]
async fn purging_asks_for_confirmation_first() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.noop(1).await;
    let r = m.get(&s, "/queues/default/purge").await;
    r.assert_status(200);
    assert!(r.text.contains("1 ready"), "{}", r.text);
    assert!(r.text.contains(r#"name="confirm""#));
    assert_eq!(m.get(&s, "/api/queues").await.assert_status(200)[0]["ready"], 1);
}

#[tokio::test]
async fn purging_with_the_queue_name_empties_it() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.noop(1).await;
    let r = m.post_form(&s, "/queues/default/purge", &[("csrf_token", &s.csrf), ("confirm", "default")]).await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/?done=purged"));
    assert_eq!(m.get(&s, "/api/queues").await.assert_status(200)[0]["ready"], 0);
}

#[tokio::test]
async fn purging_with_a_wrong_confirmation_keeps_the_queue() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.noop(1).await;
    let r = m.post_form(&s, "/queues/default/purge", &[("csrf_token", &s.csrf), ("confirm", "yes")]).await;
    assert_eq!(r.status.as_u16(), 422);
    assert_eq!(m.get(&s, "/api/queues").await.assert_status(200)[0]["ready"], 1);
}

#[tokio::test]
async fn the_script_and_stylesheet_are_served_as_files() {
    let m = TestMonitor::new();
    let js = m.get_anon("/static/monitor.js").await;
    js.assert_status(200);
    assert!(js.content_type().starts_with("text/javascript"));
    assert!(js.text.contains("POLL_MS = 2000"));
    let css = m.get_anon("/static/monitor.css").await;
    assert!(css.content_type().starts_with("text/css"));
}
