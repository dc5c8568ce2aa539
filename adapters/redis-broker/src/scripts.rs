//! The Lua scripts (`src/scripts/*.lua`); each broker script starts with `prelude.lua`.

use crate::conn::Lua;

const PRELUDE: &str = include_str!("scripts/prelude.lua");
const RECORD_PATCH: &str = include_str!("scripts/record_patch.lua");

fn with_prelude(body: &str) -> Lua {
    Lua::new(format!("{PRELUDE}\n{body}"))
}

/// The broker's scripts: every one touches the keys of one queue (or the revocation store).
#[derive(Debug, Clone)]
pub(crate) struct BrokerScripts {
    pub enqueue: Lua,
    pub fetch: Lua,
    pub renew: Lua,
    pub ack: Lua,
    pub retry: Lua,
    pub release: Lua,
    pub dead_letter: Lua,
    pub replay: Lua,
    pub revoke_drop: Lua,
    pub revoke_mark: Lua,
    pub purge: Lua,
    /// Outcome + settlement in one step (the worker's second call per task).
    pub settle: Lua,
    /// PENDING records of messages just enqueued (a submit's one round trip).
    pub record_pending: Lua,
}

impl BrokerScripts {
    pub(crate) fn new() -> Self {
        Self {
            enqueue: with_prelude(include_str!("scripts/enqueue.lua")),
            fetch: with_prelude(include_str!("scripts/fetch.lua")),
            renew: with_prelude(include_str!("scripts/renew.lua")),
            ack: with_prelude(include_str!("scripts/ack.lua")),
            retry: with_prelude(include_str!("scripts/retry.lua")),
            release: with_prelude(include_str!("scripts/release.lua")),
            dead_letter: with_prelude(include_str!("scripts/dead_letter.lua")),
            replay: with_prelude(include_str!("scripts/replay.lua")),
            revoke_drop: with_prelude(include_str!("scripts/revoke_drop.lua")),
            revoke_mark: with_prelude(include_str!("scripts/revoke_mark.lua")),
            purge: with_prelude(include_str!("scripts/purge.lua")),
            settle: Lua::new(format!("{PRELUDE}\n{RECORD_PATCH}\n{}", include_str!("scripts/settle.lua"))),
            record_pending: Lua::new(include_str!("scripts/record_pending.lua").to_owned()),
        }
    }

    pub(crate) fn all(&self) -> Vec<Lua> {
        [
            &self.enqueue,
            &self.fetch,
            &self.renew,
            &self.ack,
            &self.retry,
            &self.release,
            &self.dead_letter,
            &self.replay,
            &self.revoke_drop,
            &self.revoke_mark,
            &self.purge,
            &self.settle,
            &self.record_pending,
        ]
        .into_iter()
        .cloned()
        .collect()
    }
}

/// The result backend's scripts: every one touches the keys of one task.
#[derive(Debug, Clone)]
pub(crate) struct ResultScripts {
    pub create: Lua,
    pub apply: Lua,
    pub add_child: Lua,
}

impl ResultScripts {
    pub(crate) fn new() -> Self {
        Self {
            create: Lua::new(include_str!("scripts/result_create.lua").to_owned()),
            apply: Lua::new(format!("{RECORD_PATCH}\n{}", include_str!("scripts/result_apply.lua"))),
            add_child: Lua::new(include_str!("scripts/result_add_child.lua").to_owned()),
        }
    }

    pub(crate) fn all(&self) -> Vec<Lua> {
        [&self.create, &self.apply, &self.add_child].into_iter().cloned().collect()
    }
}
