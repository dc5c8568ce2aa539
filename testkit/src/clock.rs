//! Clocks for tests: a manual clock moved by hand, and the choice a contract suite is given
//! between it and real time.

use chrono::{DateTime, Utc};
use goodrobot_ports::{Clock, SystemClock};
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

/// A clock that stands still until it is moved.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// Starts at the current wall-clock time.
    pub fn new() -> Self {
        Self::at(Utc::now())
    }

    pub fn at(t: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(t) }
    }

    /// Moves the clock forward by `d`.
    ///
    /// # Panics
    /// If `d` does not fit in a chrono duration (hundreds of millions of years).
    pub fn advance(&self, d: Duration) {
        let d = chrono::TimeDelta::from_std(d).expect("a duration chrono can represent");
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += d;
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = t;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How time passes for an adapter under test.
#[derive(Debug, Clone)]
pub enum TestClock {
    /// The adapter reads this clock; tests move it.
    Manual(Arc<ManualClock>),
    /// The adapter uses real time (e.g. Redis's own clock).
    Real,
}

impl TestClock {
    /// A new manual clock at the current time.
    pub fn manual() -> Self {
        Self::Manual(Arc::new(ManualClock::new()))
    }

    /// The clock to give the adapter.
    pub fn clock(&self) -> Arc<dyn Clock> {
        match self {
            Self::Manual(c) => c.clone(),
            Self::Real => Arc::new(SystemClock),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::Manual(c) => c.now(),
            Self::Real => Utc::now(),
        }
    }

    /// Moves a manual clock forward; real time is left alone, and the test then waits for
    /// the effect through a call that blocks until it happens (a fetch with a wait).
    pub fn advance(&self, d: Duration) {
        if let Self::Manual(c) = self {
            c.advance(d);
        }
    }

    /// Lets `d` pass: moves a manual clock, or waits it out in real time. Only for
    /// behaviour that is the passing of time itself (a TTL), which no call can wait for.
    pub async fn elapse(&self, d: Duration) {
        match self {
            Self::Manual(c) => c.advance(d),
            Self::Real => tokio::time::sleep(d).await,
        }
    }
}
