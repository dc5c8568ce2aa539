//! With Redis gone mid-run, the API keeps answering from the system of record and `/ready`
//! says Redis is down.

mod common;

use common::TestApp;
use goodrobot_bootstrap::{Infra, Settings};
use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A private `redis-server` on a free loopback port, stopped on drop.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn reads_survive_a_redis_outage_and_ready_reports_it() {
    let mut redis = PrivateRedis::start();
    let env = HashMap::from([("REDIS_URL".to_owned(), format!("redis://127.0.0.1:{}", redis.port))]);
    let infra = Infra::from_settings(&Settings::from_map(&env).unwrap()).await.unwrap();
    let app = TestApp::over(infra);
    let id = app.user("client", 1).await;
    app.get(&format!("/api/v1/users/{id}")).await.assert_status(200);
    app.get("/api/v1/ready").await.assert_status(200);

    redis.stop();

    let t = Instant::now();
    let body = app.get(&format!("/api/v1/users/{id}")).await.assert_status(200).clone();
    assert_eq!(body["id"], id);
    eprintln!("GET with Redis down took {:?}", t.elapsed());
    let r = app.get("/api/v1/ready").await;
    r.assert_status(503);
    let redis_dep = r.body["dependencies"].as_array().unwrap().iter().find(|d| d["name"] == "redis").cloned().unwrap();
    assert_eq!(redis_dep["ok"], false, "{:#?}", r.body);
    assert!(!r.body.to_string().contains("127.0.0.1"), "no connection details in the body: {}", r.body);
}
