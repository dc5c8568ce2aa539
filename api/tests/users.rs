//! `/users`: create, list, read, update, and how each refuses bad input.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn creating_a_user_returns_201_with_the_user_and_its_location() {
    let app = TestApp::new();
    let r = app
        .post("/api/v1/users", json!({"tg_id": 42, "role": "client", "name": " Ann ", "phone": "+79991234567"}))
        .await;
    let u = r.assert_status(201);
    assert_eq!((u["tg_id"].as_i64(), u["role"].as_str(), u["name"].as_str()), (Some(42), Some("client"), Some("Ann")));
    assert_eq!((u["phone"].as_str(), u["is_active"].as_bool()), (Some("+79991234567"), Some(true)));
    assert!(u["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.location, Some(format!("/api/v1/users/{}", u["id"])));
}

#[tokio::test]
async fn a_taken_tg_id_is_a_409_naming_tg_id() {
    let app = TestApp::new();
    app.user("client", 7).await;
    let r = app.post("/api/v1/users", json!({"tg_id": 7, "role": "master", "name": "Bob"})).await;
    r.assert_problem(409, "conflict", Some("tg_id"));
}

#[tokio::test]
async fn an_unknown_role_is_a_422_naming_role() {
    let app = TestApp::new();
    let r = app.post("/api/v1/users", json!({"tg_id": 1, "role": "boss", "name": "Ann"})).await;
    r.assert_problem(422, "validation_failed", Some("role"));
}

#[tokio::test]
async fn a_phone_not_in_e164_is_a_422_naming_phone() {
    let app = TestApp::new();
    let r =
        app.post("/api/v1/users", json!({"tg_id": 1, "role": "client", "name": "Ann", "phone": "89991234567"})).await;
    r.assert_problem(422, "validation_failed", Some("phone"));
}

#[tokio::test]
async fn every_invalid_field_is_listed() {
    let app = TestApp::new();
    let r = app.post("/api/v1/users", json!({"tg_id": 0, "role": "client", "name": " ", "phone": "x"})).await;
    r.assert_problem(422, "validation_failed", Some("tg_id"));
    let fields: Vec<_> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["tg_id", "name", "phone"]);
}

#[tokio::test]
async fn a_missing_field_is_a_422_naming_it() {
    let app = TestApp::new();
    let r = app.post("/api/v1/users", json!({"tg_id": 1, "role": "client"})).await;
    r.assert_problem(422, "validation_failed", Some("name"));
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_a_422_naming_it() {
    let app = TestApp::new();
    let r = app.post("/api/v1/users", json!({"tg_id": "one", "role": "client", "name": "Ann"})).await;
    r.assert_problem(422, "validation_failed", Some("tg_id"));
}

#[tokio::test]
async fn an_unknown_field_is_a_422_naming_it() {
    let app = TestApp::new();
    let r = app.post("/api/v1/users", json!({"tg_id": 1, "role": "client", "name": "Ann", "nick": "a"})).await;
    r.assert_problem(422, "validation_failed", Some("nick"));
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = TestApp::new();
    let r = app.post_raw("/api/v1/users", "application/json", "{\"tg_id\": 1,").await;
    r.assert_problem(400, "malformed_json", None);
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_a_413_problem() {
    let app = TestApp::new();
    let name = "a".repeat(goodrobot_api::body::MAX_BODY_BYTES);
    let r = app
        .post_raw("/api/v1/users", "application/json", format!(r#"{{"tg_id": 1, "role": "client", "name": "{name}"}}"#))
        .await;
    r.assert_problem(413, "payload_too_large", None);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = TestApp::new();
    let r = app.post_raw("/api/v1/users", "text/plain", "tg_id=1").await;
    r.assert_problem(415, "unsupported_media_type", None);
}

#[tokio::test]
async fn reading_a_user_returns_it() {
    let app = TestApp::new();
    let id = app.user("master", 5).await;
    let r = app.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(r.assert_status(200)["tg_id"], 5);
}

#[tokio::test]
async fn reading_a_missing_user_is_a_404_problem() {
    let app = TestApp::new();
    app.get("/api/v1/users/999").await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn a_user_id_that_is_not_an_integer_is_a_400_naming_id() {
    let app = TestApp::new();
    app.get("/api/v1/users/abc").await.assert_problem(400, "invalid_parameter", Some("id"));
}

#[tokio::test]
async fn users_are_listed_in_pages() {
    let app = TestApp::new();
    for tg in 1..=3 {
        app.user("client", tg).await;
    }
    let first = app.get("/api/v1/users?limit=2").await;
    let page = first.assert_status(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let after = page["next_after"].as_i64().expect("a next page");
    let second = app.get(&format!("/api/v1/users?limit=2&after={after}")).await;
    let page = second.assert_status(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["next_after"].is_null());
}

#[tokio::test]
async fn a_page_limit_out_of_range_is_a_422_naming_limit() {
    let app = TestApp::new();
    app.get("/api/v1/users?limit=0").await.assert_problem(422, "validation_failed", Some("limit"));
}

#[tokio::test]
async fn a_page_limit_that_is_not_a_number_is_a_400_naming_limit() {
    let app = TestApp::new();
    app.get("/api/v1/users?limit=many").await.assert_problem(400, "invalid_parameter", Some("limit"));
}

#[tokio::test]
async fn patching_changes_only_the_fields_given_and_the_next_read_sees_it() {
    let app = TestApp::new();
    let r =
        app.post("/api/v1/users", json!({"tg_id": 9, "role": "client", "name": "Ann", "phone": "+79991234567"})).await;
    let id = r.assert_status(201)["id"].as_i64().unwrap();
    app.get(&format!("/api/v1/users/{id}")).await.assert_status(200); // now cached
    let r = app.patch(&format!("/api/v1/users/{id}"), json!({"name": "Anna", "is_active": false})).await;
    let u = r.assert_status(200);
    assert_eq!((u["name"].as_str(), u["is_active"].as_bool()), (Some("Anna"), Some(false)));
    assert_eq!(u["phone"], "+79991234567");
    let read = app.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(read.assert_status(200)["name"], "Anna");
}

#[tokio::test]
async fn patching_phone_with_null_clears_it() {
    let app = TestApp::new();
    let r =
        app.post("/api/v1/users", json!({"tg_id": 9, "role": "client", "name": "Ann", "phone": "+79991234567"})).await;
    let id = r.assert_status(201)["id"].as_i64().unwrap();
    let r = app.patch(&format!("/api/v1/users/{id}"), json!({"phone": null})).await;
    assert!(r.assert_status(200)["phone"].is_null());
}

#[tokio::test]
async fn patching_with_a_bad_phone_is_a_422_naming_phone() {
    let app = TestApp::new();
    let id = app.user("client", 9).await;
    let r = app.patch(&format!("/api/v1/users/{id}"), json!({"phone": "12"})).await;
    r.assert_problem(422, "validation_failed", Some("phone"));
}

#[tokio::test]
async fn an_empty_patch_is_a_422() {
    let app = TestApp::new();
    let id = app.user("client", 9).await;
    app.patch(&format!("/api/v1/users/{id}"), json!({})).await.assert_problem(422, "validation_failed", Some("body"));
}

#[tokio::test]
async fn patching_a_missing_user_is_a_404_problem() {
    let app = TestApp::new();
    app.patch("/api/v1/users/999", json!({"name": "X"})).await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn patching_to_a_taken_phone_is_a_409_naming_phone() {
    let app = TestApp::new();
    app.post("/api/v1/users", json!({"tg_id": 1, "role": "client", "name": "A", "phone": "+79991234567"})).await;
    let id = app.user("client", 2).await;
    let r = app.patch(&format!("/api/v1/users/{id}"), json!({"phone": "+79991234567"})).await;
    r.assert_problem(409, "conflict", Some("phone"));
}

#[tokio::test]
async fn a_user_is_found_by_tg_id_and_an_unknown_tg_id_is_a_404() {
    let app = TestApp::new();
    app.user("client", 7).await;
    let master = app.user("master", 8).await;
    let r = app.get("/api/v1/users/by-tg-id/8").await;
    let u = r.assert_status(200);
    assert_eq!((u["id"].as_i64(), u["tg_id"].as_i64(), u["role"].as_str()), (Some(master), Some(8), Some("master")));
    app.get("/api/v1/users/by-tg-id/9").await.assert_problem(404, "not_found", None);
}

#[tokio::test]
async fn a_tg_id_that_is_not_a_positive_integer_is_refused_naming_tg_id() {
    let app = TestApp::new();
    app.get("/api/v1/users/by-tg-id/abc").await.assert_problem(400, "invalid_parameter", Some("tg_id"));
    app.get("/api/v1/users/by-tg-id/0").await.assert_problem(422, "validation_failed", Some("tg_id"));
}
