//! A real browser for the monitor's tests: Debian's headless chromium driven through
//! chromedriver (WebDriver over plain HTTP on loopback), and the helpers the browser tests
//! share (waiting for an element with a deadline, screenshots into `target/artifacts/`).

use fantoccini::{Client, ClientBuilder, Locator};
use goodrobot_domain::task::{TaskId, TaskState};
use serde_json::json;
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// How long the browser may take to show something (the pages refresh every 2 s).
pub const UI_DEADLINE: Duration = Duration::from_secs(20);

/// chromedriver, killed on drop.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    profile: TempDir,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed on drop (chromium's fresh profile, a process's working directory).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory.
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{label}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts chromedriver and returns once it says it is listening (it prints a line then).
pub async fn chromedriver() -> ChromeDriver {
    let port = free_port();
    let mut child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (apt-get install chromium chromium-driver; .ci/run does it)");
    let stdout = child.stdout.take().unwrap();
    let started = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.contains("started successfully"))
    });
    let started = tokio::time::timeout(UI_DEADLINE, started).await.expect("chromedriver starts").unwrap();
    assert!(started, "chromedriver exited without starting");
    ChromeDriver { child, port, profile: TempDir::new("gr-monitor-chromium") }
}

/// A headless chromium session with a fresh profile, 1440×1000.
pub async fn browser(driver: &ChromeDriver) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1440,1000",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .chain([format!("--user-data-dir={}", driver.profile.0.display())])
    .collect::<Vec<_>>();
    let caps = json!({ "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args } });
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a chromium session")
}

/// Where tests leave what a person may want to look at: `target/artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the page as `target/artifacts/<name>`.
pub async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts_dir().join(name), png).unwrap();
}

/// The element `css` once it is on the page (within [`UI_DEADLINE`]); else a panic with the
/// page's source.
pub async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c.wait().at_most(UI_DEADLINE).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => {
            let source = c.source().await.unwrap_or_default();
            panic!("{css} did not appear: {e}\n{source}");
        }
    }
}

/// Logs in through the login form (the browser must be on it).
pub async fn log_in(c: &Client, user: &str, password: &str) {
    wait_for(c, "#login-form").await;
    c.find(Locator::Css("#username")).await.unwrap().send_keys(user).await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(password).await.unwrap();
    c.find(Locator::Css("#login")).await.unwrap().click().await.unwrap();
}

/// The CSS selector of task `id`'s row in the task list, in `state`.
pub fn row(id: TaskId, state: TaskState) -> String {
    format!(r#"#tasks tr[data-task="{id}"][data-state="{}"]"#, state.as_str())
}
