//! Taking a std `Mutex` whose holder may have panicked.
//!
//! Every critical section in this crate checks before it writes, so a panic cannot leave a
//! half-made change behind; the data stays usable and the poison flag is ignored.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
