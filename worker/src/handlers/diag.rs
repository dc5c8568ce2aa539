//! Diagnostic tasks every worker registers: `diag.noop(x)` and `diag.sleep(ms)`.

use async_trait::async_trait;
use goodrobot_domain::task::{DiagNoop, DiagNoopArgs, DiagSleep, DiagSleepArgs};
use serde_json::Value;
use std::time::Duration;

use crate::{TaskContext, TaskError, TaskHandler};

/// Returns its argument: measures the runtime's own cost.
#[derive(Debug, Clone, Copy)]
pub struct DiagNoopHandler;

#[async_trait]
impl TaskHandler<DiagNoop> for DiagNoopHandler {
    async fn handle(&self, _ctx: &TaskContext, args: DiagNoopArgs) -> Result<Value, TaskError> {
        Ok(args.x)
    }
}

/// Sleeps `ms` milliseconds and returns `ms`: for crash and shutdown tests.
#[derive(Debug, Clone, Copy)]
pub struct DiagSleepHandler;

#[async_trait]
impl TaskHandler<DiagSleep> for DiagSleepHandler {
    async fn handle(&self, _ctx: &TaskContext, args: DiagSleepArgs) -> Result<u64, TaskError> {
        tokio::time::sleep(Duration::from_millis(args.ms)).await;
        Ok(args.ms)
    }
}
