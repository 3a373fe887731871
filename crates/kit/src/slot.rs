//! A compiled config that can be replaced while requests flow.
//!
//! Each stream takes the `Rc` current when it starts and keeps it to its end, so a
//! config pushed mid-request never changes a decision halfway through. A proxy-wasm
//! VM is single-threaded, hence `Rc`, not `Arc`.

use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug)]
pub struct ConfigSlot<C> {
    inner: RefCell<Option<(u64, Rc<C>)>>,
}

impl<C> Default for ConfigSlot<C> {
    fn default() -> Self {
        Self {
            inner: RefCell::new(None),
        }
    }
}

impl<C> ConfigSlot<C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The config for a new stream, or `None` before the first successful configure.
    pub fn current(&self) -> Option<Rc<C>> {
        self.inner.borrow().as_ref().map(|(_, c)| Rc::clone(c))
    }

    /// How many configs have been installed; `0` before the first.
    pub fn generation(&self) -> u64 {
        self.inner.borrow().as_ref().map_or(0, |(g, _)| *g)
    }

    /// Installs `config` and returns its generation. Streams already running keep theirs.
    pub fn replace(&self, config: C) -> u64 {
        let mut inner = self.inner.borrow_mut();
        let generation = inner.as_ref().map_or(1, |(g, _)| g + 1);
        *inner = Some((generation, Rc::new(config)));
        generation
    }
}

#[cfg(test)]
#[path = "slot_tests.rs"]
mod tests;
