//! Handlers by task name: typed handlers, erased to JSON in and JSON out.

use async_trait::async_trait;
use goodrobot_domain::task::{TaskContract, parse_args};
use serde_json::Value;
use std::{collections::HashMap, marker::PhantomData, sync::Arc};

use crate::{TaskContext, TaskError};

/// The handler of one task type.
#[async_trait]
pub trait TaskHandler<T: TaskContract>: Send + Sync + 'static {
    /// Runs the task. At-least-once: the same task may run again after a crash or a lost
    /// lease, so a handler with side effects must make them idempotent (derive keys and
    /// child ids from `ctx.task_id()`).
    ///
    /// # Errors
    /// `TaskError` saying whether a retry may help.
    async fn handle(&self, ctx: &TaskContext, args: T::Args) -> Result<T::Output, TaskError>;
}

/// A handler with its types erased.
#[async_trait]
pub trait ErasedHandler: Send + Sync {
    async fn call(&self, ctx: &TaskContext, args: &Value) -> Result<Value, TaskError>;
}

struct Typed<T, H> {
    handler: H,
    _t: PhantomData<fn() -> T>,
}

#[async_trait]
impl<T: TaskContract, H: TaskHandler<T>> ErasedHandler for Typed<T, H> {
    async fn call(&self, ctx: &TaskContext, args: &Value) -> Result<Value, TaskError> {
        let args = parse_args::<T::Args>(args).map_err(|e| TaskError::permanent("InvalidArguments", e.to_string()))?;
        let out = self.handler.handle(ctx, args).await?;
        serde_json::to_value(out).map_err(|e| TaskError::permanent("ResultNotSerializable", e.to_string()))
    }
}

/// Task name → handler.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn ErasedHandler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("tasks", &self.names()).finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of task `T` (replacing any earlier one).
    pub fn register<T: TaskContract, H: TaskHandler<T>>(&mut self, handler: H) -> &mut Self {
        self.handlers.insert(T::NAME, Arc::new(Typed::<T, H> { handler, _t: PhantomData }));
        self
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn ErasedHandler>> {
        self.handlers.get(name).cloned()
    }

    /// The registered name equal to `name`, if any (a bounded label value for metrics).
    pub fn name_of(&self, name: &str) -> Option<&'static str> {
        self.handlers.get_key_value(name).map(|(k, _)| *k)
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.handlers.keys().copied().collect();
        v.sort_unstable();
        v
    }
}
