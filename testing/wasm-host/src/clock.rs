//! The virtual clock: tests advance it; nothing sleeps.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<Mutex<(SystemTime, Duration)>>,
}

impl Clock {
    /// Starts at the real wall-clock time (filters check token expiry against it).
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new((SystemTime::now(), Duration::ZERO))),
        }
    }

    /// Time since the plugin started; what timers are scheduled against.
    pub fn elapsed(&self) -> Duration {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).1
    }

    pub fn now(&self) -> SystemTime {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0 + guard.1
    }

    pub fn advance_to(&self, elapsed: Duration) {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if elapsed > guard.1 {
            guard.1 = elapsed;
        }
    }
}
