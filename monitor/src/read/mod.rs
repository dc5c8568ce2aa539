//! The read side: what the overview, the task list, a task's detail and the metrics are
//! computed from (heartbeats, queue stats, the recent event log, task records).

pub mod overview;
pub mod rates;
pub mod task_detail;
pub mod task_index;
