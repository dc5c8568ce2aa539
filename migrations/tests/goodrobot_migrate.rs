//! The `goodrobot-migrate` command: run, list and revert on the database in `DATABASE_URL`.

use goodrobot_migrations::test_database::TestDatabase;
use std::process::{Command, Output};

fn migrate(db: &TestDatabase, command: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_goodrobot-migrate"))
        .arg(command)
        .env("DATABASE_URL", db.url())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("goodrobot-migrate runs")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status, String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn run_applies_every_migration_and_says_which() {
    let db = TestDatabase::empty().await;
    let out = stdout(&migrate(&db, "run"));
    assert_eq!(out.lines().filter(|l| l.starts_with("applied ")).count(), 3, "{out}");
}

#[tokio::test]
async fn run_on_a_current_schema_says_nothing_to_apply() {
    let db = TestDatabase::migrated().await;
    assert!(stdout(&migrate(&db, "run")).contains("nothing to apply"));
}

#[tokio::test]
async fn list_marks_applied_migrations() {
    let db = TestDatabase::migrated().await;
    let out = stdout(&migrate(&db, "list"));
    assert_eq!(out.lines().filter(|l| l.starts_with("[X] ")).count(), 3, "{out}");
}

#[tokio::test]
async fn revert_reverts_the_newest_migration() {
    let db = TestDatabase::migrated().await;
    assert_eq!(stdout(&migrate(&db, "revert")).trim(), "reverted 2025-01-01-000003_create_bids");
}

#[test]
fn an_unknown_command_fails_with_the_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_goodrobot-migrate")).arg("up").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: goodrobot-migrate"));
}

#[test]
fn without_database_url_it_fails_and_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_goodrobot-migrate"))
        .arg("run")
        .env_remove("DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL is not set"));
}
