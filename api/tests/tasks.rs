//! `/tasks`: queueing by name with Celery's options, reading (and waiting for) a task,
//! revoking and replaying.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn submitting_a_known_task_returns_202_with_its_id() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "args": [7]})).await;
    let body = r.assert_status(202);
    assert_eq!(body["duplicate"], false);
    assert!(body["eta"].is_null());
    let t = app.get(&format!("/api/v1/tasks/{}", body["task_id"].as_str().unwrap())).await;
    let t = t.assert_status(200);
    assert_eq!((t["state"].as_str(), t["args"].clone()), (Some("PENDING"), json!({"x": 7})));
}

#[tokio::test]
async fn a_submitted_task_runs_and_its_result_is_returned_when_waited_for() {
    let app = TestApp::with_worker();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "kwargs": {"x": {"hello": "world"}}})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    let t = app.finished_task(&id).await;
    assert_eq!(t["state"], "SUCCESS", "{t:#}");
    assert_eq!(t["result"], json!({"hello": "world"}));
    assert_eq!(t["worker"], "api-test-worker");
    for k in ["created_at", "received_at", "started_at", "finished_at"] {
        assert!(t[k].is_string(), "{k} in {t:#}");
    }
    assert!(t["runtime"].as_f64().is_some_and(|s| s >= 0.0));
}

#[tokio::test]
async fn a_countdown_becomes_an_eta() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "countdown": 60})).await;
    let eta = r.assert_status(202)["eta"].as_str().unwrap().to_owned();
    let eta: chrono::DateTime<chrono::Utc> = eta.parse().unwrap();
    let ahead = eta - chrono::Utc::now();
    assert!(ahead > chrono::Duration::seconds(50) && ahead <= chrono::Duration::seconds(60), "{ahead}");
}

#[tokio::test]
async fn expires_is_accepted_as_seconds_or_as_a_time() {
    let app = TestApp::new();
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for expires in [json!(30), json!(at)] {
        let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "expires": expires})).await;
        let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
        let t = app.get(&format!("/api/v1/tasks/{id}")).await;
        assert!(t.assert_status(200)["expires"].is_string());
    }
}

#[tokio::test]
async fn an_expires_that_is_neither_seconds_nor_a_time_is_a_422_naming_expires() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "expires": "soon"})).await;
    r.assert_problem(422, "validation_failed", Some("expires"));
}

#[tokio::test]
async fn an_unknown_task_name_is_a_422_naming_name() {
    let app = TestApp::new();
    app.post("/api/v1/tasks", json!({"name": "rm_rf"})).await.assert_problem(422, "validation_failed", Some("name"));
}

#[tokio::test]
async fn an_ill_typed_argument_is_a_422_naming_it() {
    let app = TestApp::new();
    let r = app
        .post("/api/v1/tasks", json!({"name": "process_bid_assignment", "kwargs": {"bid_id": "x", "master_id": 1}}))
        .await;
    r.assert_problem(422, "validation_failed", Some("args.bid_id"));
}

#[tokio::test]
async fn an_unknown_keyword_argument_is_a_422_naming_it() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "kwargs": {"y": 1}})).await;
    r.assert_problem(422, "validation_failed", Some("kwargs.y"));
}

#[tokio::test]
async fn an_eta_in_the_past_is_a_422_naming_eta() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "eta": "2001-01-01T00:00:00Z"})).await;
    r.assert_problem(422, "validation_failed", Some("eta"));
}

#[tokio::test]
async fn a_priority_above_nine_is_a_422_naming_priority() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "priority": 10})).await;
    r.assert_problem(422, "validation_failed", Some("priority"));
}

#[tokio::test]
async fn a_task_id_that_is_not_a_uuid_is_a_422_naming_task_id() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "task_id": "nope"})).await;
    r.assert_problem(422, "validation_failed", Some("task_id"));
}

#[tokio::test]
async fn a_chosen_task_id_is_used_and_a_second_use_is_a_409() {
    let app = TestApp::new();
    let id = uuid::Uuid::new_v4().to_string();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "task_id": id})).await;
    assert_eq!(r.assert_status(202)["task_id"], id);
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "task_id": id})).await;
    r.assert_problem(409, "conflict", Some("task_id"));
}

#[tokio::test]
async fn a_dedup_key_in_use_returns_the_first_task_as_a_duplicate() {
    let app = TestApp::new();
    let body = json!({"name": "diag.noop", "dedup_key": "nightly"});
    let first = app.post("/api/v1/tasks", body.clone()).await;
    let second = app.post("/api/v1/tasks", body).await;
    let (first, second) = (first.assert_status(202), second.assert_status(202));
    assert_eq!(first["task_id"], second["task_id"]);
    assert_eq!(second["duplicate"], true);
}

#[tokio::test]
async fn reading_an_unknown_task_is_a_404() {
    let app = TestApp::new();
    let id = uuid::Uuid::new_v4();
    app.get(&format!("/api/v1/tasks/{id}")).await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn a_task_id_path_that_is_not_a_uuid_is_a_400_naming_task_id() {
    let app = TestApp::new();
    app.get("/api/v1/tasks/123").await.assert_problem(400, "invalid_parameter", Some("task_id"));
}

#[tokio::test]
async fn a_wait_longer_than_30_seconds_is_a_422_naming_wait() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop"})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/tasks/{id}?wait=31")).await.assert_problem(422, "validation_failed", Some("wait"));
}

#[tokio::test]
async fn a_wait_on_a_task_that_does_not_finish_returns_it_unfinished() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop"})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    let t = app.get(&format!("/api/v1/tasks/{id}?wait=0.05")).await;
    assert_eq!(t.assert_status(200)["state"], "PENDING");
}

#[tokio::test]
async fn a_wait_ends_at_once_when_the_server_is_shutting_down() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop"})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    app.shut_down();
    let started = std::time::Instant::now();
    let t = app.get(&format!("/api/v1/tasks/{id}?wait=30")).await;
    assert_eq!(t.assert_status(200)["state"], "PENDING");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn revoking_a_pending_task_returns_it_revoked() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop", "countdown": 600})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    let t = app.delete(&format!("/api/v1/tasks/{id}")).await;
    let t = t.assert_status(200);
    assert_eq!(t["state"], "REVOKED");
    assert_eq!(t["error"]["kind"], "Revoked");
}

#[tokio::test]
async fn revoking_a_finished_task_is_a_409() {
    let app = TestApp::with_worker();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop"})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    assert_eq!(app.finished_task(&id).await["state"], "SUCCESS");
    app.delete(&format!("/api/v1/tasks/{id}")).await.assert_problem(409, "conflict", Some("task_id"));
}

#[tokio::test]
async fn revoking_an_unknown_task_is_a_404() {
    let app = TestApp::new();
    app.delete(&format!("/api/v1/tasks/{}", uuid::Uuid::new_v4())).await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn a_failed_task_reports_its_error_and_can_be_replayed() {
    let app = TestApp::with_worker();
    // No user 999: the notification fails for good and is dead-lettered.
    let r = app.post("/api/v1/tasks", json!({"name": "send_notification", "args": [999, "hi"]})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    let t = app.finished_task(&id).await;
    assert_eq!(t["state"], "FAILURE", "{t:#}");
    assert!(t["error"]["kind"].is_string() && t["error"]["message"].is_string(), "{t:#}");
    let r = app.post_empty(&format!("/api/v1/tasks/{id}/replay")).await;
    let t = r.assert_status(202);
    assert_eq!((t["task_id"].as_str(), t["state"].as_str()), (Some(id.as_str()), Some("PENDING")));
}

#[tokio::test]
async fn replaying_a_task_that_is_not_dead_lettered_is_a_404() {
    let app = TestApp::new();
    let r = app.post("/api/v1/tasks", json!({"name": "diag.noop"})).await;
    let id = r.assert_status(202)["task_id"].as_str().unwrap().to_owned();
    app.post_empty(&format!("/api/v1/tasks/{id}/replay")).await.assert_problem(404, "not_found", None);
}
