//! The shared repository contract (the memory adapter passes the same suite), each test on
//! a fresh database of its own.

mod common;

goodrobot_testkit::repository_contract_tests!(common::repo_fixture());
