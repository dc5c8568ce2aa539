//! The JSON API over memory adapters: overview, workers, queues, the task list (filters and
//! pages), a task's detail, the actions, the session, the OpenAPI document.

mod common;

use chrono::Utc;
use common::TestMonitor;
use goodrobot_domain::task::{TaskId, TaskState};
use goodrobot_ports::services::TaskOptions;
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|t| t["task_id"].as_str().unwrap().to_owned()).collect()
}

fn delayed() -> TaskOptions {
    TaskOptions { countdown: Some(3600.0), ..TaskOptions::default() }
}

#[tokio::test]
async fn workers_lists_each_heartbeat_with_uptime_and_processed() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.heartbeat("w-b", 5, 2).await;
    m.heartbeat("w-a", 1, 0).await;
    let body = m.get(&s, "/api/workers").await.assert_status(200).clone();
    let list = body.as_array().unwrap();
    assert_eq!(list.iter().map(|w| w["id"].as_str().unwrap()).collect::<Vec<_>>(), ["w-a", "w-b"]);
    let b = &list[1];
    assert_eq!((b["processed"].as_u64(), b["failed"].as_u64()), (Some(7), Some(2)));
    assert_eq!(
        (b["host"].as_str(), b["pid"].as_u64(), b["concurrency"].as_u64()),
        (Some("test-host"), Some(4242), Some(4))
    );
    assert!(b["uptime_secs"].as_i64().unwrap() >= 90);
    assert!(b["last_heartbeat"].is_string() && b["running"] == 1);
}

#[tokio::test]
async fn queues_shows_the_depths_of_the_configured_queues() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.noop(1).await;
    m.noop(2).await;
    m.submit("diag.noop", json!({"x": 3}), delayed()).await;
    let body = m.get(&s, "/api/queues").await.assert_status(200).clone();
    assert_eq!(body[0], json!({"queue": "default", "ready": 2, "delayed": 1, "in_flight": 0, "dead": 0}));
    assert_eq!(body[1]["queue"], "reports");
}

#[tokio::test]
async fn the_overview_has_workers_queues_and_rates() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.heartbeat("w1", 0, 0).await;
    let (a, b, c) = (m.noop(1).await, m.noop(2).await, m.noop(3).await);
    m.finish(a, TaskState::Success, "w1").await;
    m.finish(b, TaskState::Success, "w1").await;
    m.finish(c, TaskState::Failure, "w1").await;
    let o = m.get(&s, "/api/overview").await.assert_status(200).clone();
    assert_eq!(o["workers"].as_array().unwrap().len(), 1);
    assert_eq!(o["queues"].as_array().unwrap().len(), 2);
    assert_eq!((o["rates"]["succeeded"].as_u64(), o["rates"]["failed"].as_u64()), (Some(2), Some(1)));
    assert!((o["rates"]["failure_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(o["rates"]["per_minute"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn the_task_list_is_newest_first_with_one_row_per_task() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let (a, b) = (m.noop(1).await, m.noop(2).await);
    m.finish(a, TaskState::Success, "w1").await;
    let page = m.get(&s, "/api/tasks").await.assert_status(200).clone();
    assert_eq!(ids(&page), [a.to_string(), b.to_string()]);
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"][0]["state"], "SUCCESS");
    assert_eq!(page["items"][0]["worker"], "w1");
    assert_eq!(page["items"][1]["state"], "PENDING");
    assert_eq!(page["items"][1]["args"], json!({"x": 2}));
}

#[tokio::test]
async fn the_state_filter_uses_the_records_state() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let (a, b) = (m.noop(1).await, m.noop(2).await);
    m.finish(a, TaskState::Failure, "w1").await;
    let page = m.get(&s, "/api/tasks?state=failure").await.assert_status(200).clone();
    assert_eq!(ids(&page), [a.to_string()]);
    let pending = m.get(&s, "/api/tasks?state=PENDING").await.assert_status(200).clone();
    assert_eq!(ids(&pending), [b.to_string()]);
}

#[tokio::test]
async fn name_queue_and_worker_filters_match_exactly() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let noop = m.noop(1).await;
    let sleep = m.submit("diag.sleep", json!({"ms": 1}), TaskOptions::default()).await;
    let report = m
        .submit("diag.noop", json!({"x": 2}), TaskOptions { queue: Some("reports".into()), ..TaskOptions::default() })
        .await;
    m.finish(noop, TaskState::Success, "w-one").await;
    assert_eq!(ids(m.get(&s, "/api/tasks?name=diag.sleep").await.assert_status(200)), [sleep.to_string()]);
    assert_eq!(ids(m.get(&s, "/api/tasks?queue=reports").await.assert_status(200)), [report.to_string()]);
    assert_eq!(ids(m.get(&s, "/api/tasks?worker=w-one").await.assert_status(200)), [noop.to_string()]);
}

#[tokio::test]
async fn text_search_finds_tasks_by_arguments_result_or_error() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let hit =
        m.submit("send_notification", json!({"user_id": 1, "message": "Needle in args"}), TaskOptions::default()).await;
    m.submit("send_notification", json!({"user_id": 1, "message": "hay"}), TaskOptions::default()).await;
    let failed = m.noop(7).await;
    m.finish(failed, TaskState::Failure, "w1").await;
    assert_eq!(ids(m.get(&s, "/api/tasks?q=needle").await.assert_status(200)), [hit.to_string()]);
    assert_eq!(ids(m.get(&s, "/api/tasks?q=it%20broke").await.assert_status(200)), [failed.to_string()]);
}

#[tokio::test]
async fn a_time_range_selects_tasks_by_their_newest_activity() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let a = m.noop(1).await;
    let cut = Utc::now();
    let b = m.noop(2).await;
    let since = common::urlencode(&cut.to_rfc3339());
    assert_eq!(ids(m.get(&s, &format!("/api/tasks?since={since}")).await.assert_status(200)), [b.to_string()]);
    assert_eq!(ids(m.get(&s, &format!("/api/tasks?until={since}")).await.assert_status(200)), [a.to_string()]);
    assert_eq!(m.get(&s, "/api/tasks?since=1h").await.assert_status(200)["total"], 2);
}

#[tokio::test]
async fn pages_split_the_list() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let mut made: Vec<TaskId> = Vec::new();
    for i in 0..5 {
        made.push(m.noop(i).await);
    }
    made.reverse();
    let p2 = m.get(&s, "/api/tasks?per_page=2&page=2").await.assert_status(200).clone();
    assert_eq!(ids(&p2), [made[2].to_string(), made[3].to_string()]);
    assert_eq!((p2["total"].as_u64(), p2["page"].as_u64(), p2["per_page"].as_u64()), (Some(5), Some(2), Some(2)));
    let p3 = m.get(&s, "/api/tasks?per_page=2&page=3").await.assert_status(200).clone();
    assert_eq!(ids(&p3), [made[4].to_string()]);
}

#[tokio::test]
async fn a_bad_filter_is_a_422_naming_the_field() {
    let m = TestMonitor::new();
    let s = m.login().await;
    for (q, field) in [("state=DONE", "state"), ("since=yesterday", "since"), ("per_page=0", "per_page")] {
        let r = m.get(&s, &format!("/api/tasks?{q}")).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.json["field"], field, "{q}");
    }
}

#[tokio::test]
async fn a_task_with_an_expired_record_is_listed_from_its_events() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    m.finish(id, TaskState::Success, "w1").await;
    m.infra.results.delete(id).await.unwrap();
    let page = m.get(&s, "/api/tasks").await.assert_status(200).clone();
    assert_eq!(page["items"][0]["state"], "SUCCESS");
    assert_eq!(page["items"][0]["has_record"], false);
}

#[tokio::test]
async fn the_detail_has_args_result_retries_worker_and_a_timeline() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(41).await;
    m.finish(id, TaskState::Success, "w1").await;
    let t = m.get(&s, &format!("/api/tasks/{id}")).await.assert_status(200).clone();
    assert_eq!((t["name"].as_str(), t["state"].as_str()), (Some("diag.noop"), Some("SUCCESS")));
    assert_eq!(t["args"], json!({"x": 41}));
    assert_eq!(t["result"], json!({"ok": true}));
    assert_eq!((t["retries"].as_u64(), t["max_retries"].as_u64()), (Some(0), Some(3)));
    assert_eq!(t["worker"], "w1");
    let states: Vec<&str> = t["timeline"].as_array().unwrap().iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["PENDING", "STARTED", "SUCCESS"]);
    assert_eq!((t["can_revoke"].as_bool(), t["can_replay"].as_bool()), (Some(false), Some(false)));
}

#[tokio::test]
async fn the_detail_links_parent_and_children() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let parent = m.noop(1).await;
    let child =
        m.submit("diag.noop", json!({"x": 2}), TaskOptions { parent_id: Some(parent), ..TaskOptions::default() }).await;
    let p = m.get(&s, &format!("/api/tasks/{parent}")).await.assert_status(200).clone();
    assert_eq!(p["children"], json!([{"task_id": child.to_string(), "name": "diag.noop", "state": "PENDING"}]));
    let c = m.get(&s, &format!("/api/tasks/{child}")).await.assert_status(200).clone();
    assert_eq!(c["parent"]["task_id"], parent.to_string());
}

#[tokio::test]
async fn an_unknown_task_is_404_and_a_malformed_id_422() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.get(&s, &format!("/api/tasks/{}", TaskId::generate())).await.assert_problem(404, "not_found");
    m.get(&s, "/api/tasks/not-a-uuid").await.assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn revoking_a_waiting_task_makes_it_revoked_and_listed_so() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.submit("diag.noop", json!({"x": 1}), delayed()).await;
    let r = m.post(&s, &format!("/api/tasks/{id}/revoke")).await.assert_status(200).clone();
    assert_eq!((r["action"].as_str(), r["state"].as_str()), (Some("revoked"), Some("REVOKED")));
    assert_eq!(m.record(id).await.state, TaskState::Revoked);
    let page = m.get(&s, "/api/tasks?state=REVOKED").await.assert_status(200).clone();
    assert_eq!(ids(&page), [id.to_string()]);
    assert_eq!(m.get(&s, "/api/queues").await.assert_status(200)[0]["delayed"], 0);
}

/// The events of task `id` in the event log, oldest first, as `STATE` names.
async fn events_of(m: &TestMonitor, id: TaskId) -> Vec<&'static str> {
    let mut states: Vec<&'static str> = m
        .infra
        .events
        .recent(1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.task_id == id)
        .map(|e| e.state.as_str())
        .collect();
    states.reverse();
    states
}

#[tokio::test]
async fn each_action_records_its_state_change_once() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let waiting = m.submit("diag.noop", json!({"x": 1}), delayed()).await;
    m.post(&s, &format!("/api/tasks/{waiting}/revoke")).await.assert_status(200);
    assert_eq!(events_of(&m, waiting).await, ["PENDING", "REVOKED"]);
    let r = m.post(&s, &format!("/api/tasks/{waiting}/retry")).await.assert_status(200).clone();
    let new = TaskId::parse(r["new_task_id"].as_str().unwrap()).unwrap();
    assert_eq!(events_of(&m, new).await, ["PENDING"]);
}

#[tokio::test]
async fn revoking_a_finished_task_is_a_409() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    m.finish(id, TaskState::Success, "w1").await;
    m.post(&s, &format!("/api/tasks/{id}/revoke")).await.assert_problem(409, "conflict");
}

#[tokio::test]
async fn replaying_a_task_that_is_not_dead_lettered_is_a_404() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    m.post(&s, &format!("/api/tasks/{id}/replay")).await.assert_problem(404, "not_found");
}

#[tokio::test]
async fn retrying_a_failed_task_queues_a_new_one_with_its_arguments() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(9).await;
    m.finish(id, TaskState::Failure, "w1").await;
    let r = m.post(&s, &format!("/api/tasks/{id}/retry")).await.assert_status(200).clone();
    let new = TaskId::parse(r["new_task_id"].as_str().unwrap()).unwrap();
    assert_ne!(new, id);
    let rec = m.record(new).await;
    assert_eq!((rec.state, rec.args.clone()), (TaskState::Pending, json!({"x": 9})));
    assert_eq!(ids(m.get(&s, "/api/tasks").await.assert_status(200))[0], new.to_string());
}

#[tokio::test]
async fn retrying_a_task_that_has_not_failed_is_a_409() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let id = m.noop(1).await;
    m.post(&s, &format!("/api/tasks/{id}/retry")).await.assert_problem(409, "conflict");
}

#[tokio::test]
async fn purging_needs_the_queue_name_as_confirmation() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.noop(1).await;
    let r = m.post(&s, "/api/queues/default/purge").await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.json["field"], "confirm");
    assert_eq!(m.get(&s, "/api/queues").await.assert_status(200)[0]["ready"], 1);
}

#[tokio::test]
async fn purging_removes_ready_and_delayed_tasks() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.noop(1).await;
    m.submit("diag.noop", json!({"x": 2}), delayed()).await;
    let r = m.post(&s, "/api/queues/default/purge?confirm=default").await.assert_status(200).clone();
    assert_eq!(r, json!({"queue": "default", "removed": 2}));
    let q = m.get(&s, "/api/queues").await.assert_status(200)[0].clone();
    assert_eq!((q["ready"].as_u64(), q["delayed"].as_u64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn purging_a_queue_the_monitor_does_not_show_is_refused() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let r = m.post(&s, "/api/queues/other/purge?confirm=other").await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.json["field"], "queue");
}

#[tokio::test]
async fn the_session_endpoint_returns_the_user_and_csrf_token() {
    let m = TestMonitor::new();
    let s = m.login().await;
    let me = m.get(&s, "/api/session").await.assert_status(200).clone();
    assert_eq!(me["user"], common::USER);
    assert_eq!(me["csrf_token"].as_str().unwrap().len(), 43);
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let m = TestMonitor::new();
    let spec = m.get_anon("/openapi.json").await.assert_status(200).clone();
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/overview",
        "/workers",
        "/queues",
        "/tasks",
        "/tasks/{task_id}",
        "/tasks/{task_id}/revoke",
        "/tasks/{task_id}/replay",
        "/tasks/{task_id}/retry",
        "/queues/{queue}/purge",
        "/session",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    assert_eq!(spec["servers"][0]["url"], "/api");
    let revoke = &spec["paths"]["/tasks/{task_id}/revoke"]["post"];
    assert!(revoke["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "X-CSRF-Token"));
    assert!(revoke["responses"]["403"].is_object());
}

#[tokio::test]
async fn an_unknown_api_route_is_a_problem() {
    let m = TestMonitor::new();
    let s = m.login().await;
    m.get(&s, "/api/nope").await.assert_problem(404, "route_not_found");
}
