//! Requests held while keys are fetched, and when each may be decided again: plain data
//! and rules, tested natively; the glue only enters each ready stream's context.
//!
//! A request waits for its provider's fetch. It is decided again when that fetch ends,
//! when newer keys arrive (a fetch by another stream, or another worker's through
//! shared data), or when its wait runs out. On a host that cannot switch to another
//! stream's context (Kong, APISIX) only the stream's own callbacks may act on it: it is
//! woken by its own callout's answer, never from the root or another stream.

/// One held request. `S` is the glue's handle on the stream.
#[derive(Debug)]
pub struct Waiter<S> {
    pub context_id: u32,
    /// The fetch this stream made itself: on hosts that cannot switch to another
    /// stream's context, only its own callout's answer may wake it.
    pub own_fetch: bool,
    pub provider: usize,
    /// The provider's fetch time when the wait began: newer keys end the wait.
    pub fetched_at: u64,
    pub deadline: u64,
    pub stream: S,
}

/// Why the waiters are looked at now.
#[derive(Debug, Clone, Copy)]
pub struct Occasion {
    pub now: u64,
    /// The provider whose fetch just ended (answered, failed or timed out).
    pub finished: Option<usize>,
    /// The stream whose callback this is (a callout answered on it); `None` on the root.
    pub current: Option<u32>,
    /// The host lets a callback enter another stream's context (Envoy).
    pub switches: bool,
}

impl<S> Waiter<S> {
    /// Whether this request may be decided again now. `fetched_at` is the provider's
    /// current fetch time.
    pub fn ready(&self, at: &Occasion, fetched_at: u64) -> bool {
        let reachable = at.switches || at.current == Some(self.context_id);
        reachable
            && (at.finished == Some(self.provider)
                || fetched_at != self.fetched_at
                || at.now >= self.deadline
                || (self.own_fetch && !at.switches))
    }
}

/// Every held request of a VM.
#[derive(Debug)]
pub struct Waiters<S> {
    held: Vec<Waiter<S>>,
}

impl<S> Default for Waiters<S> {
    fn default() -> Self {
        Self { held: Vec::new() }
    }
}

impl<S> Waiters<S> {
    pub fn hold(&mut self, waiter: Waiter<S>) {
        self.held.push(waiter);
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Takes out the requests that may be decided again now (in the order they began
    /// waiting), dropping first those `alive` says are gone.
    pub fn take_ready(
        &mut self,
        at: &Occasion,
        fetched_at: impl Fn(usize) -> u64,
        alive: impl Fn(&S) -> bool,
    ) -> Vec<Waiter<S>> {
        self.held.retain(|w| alive(&w.stream));
        let (ready, keep) = self
            .held
            .drain(..)
            .partition(|w| w.ready(at, fetched_at(w.provider)));
        self.held = keep;
        ready
    }
}

#[cfg(test)]
#[path = "waiting_tests.rs"]
mod tests;
