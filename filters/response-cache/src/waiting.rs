//! Requests held while another request fills their key (see [`crate::coalesce`]), as
//! the root sees them: plain data the root looks at on its tick.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::decide::Fetch;
use crate::entry::KeyHash;

/// One held request.
pub struct Wait {
    pub context_id: u32,
    pub key: KeyHash,
    /// It stops waiting at this time whatever the fill does (Unix nanoseconds).
    pub deadline_ns: u64,
    /// The request's headers and credentials, to decide it again.
    pub request: Vec<(String, String)>,
    pub credentials: Option<Vec<u8>>,
    /// What the root decided when it let the request go upstream: its fetch (to store
    /// the response), or nothing to store.
    pub outcome: Option<Fetch>,
}

/// Every held request of a VM. The streams own their `Wait`; a stream that is gone
/// (the client left) drops out by itself.
#[derive(Default)]
pub struct Waiters {
    held: Vec<Weak<RefCell<Wait>>>,
}

impl Waiters {
    pub fn hold(&mut self, wait: &Rc<RefCell<Wait>>) {
        self.held.push(Rc::downgrade(wait));
    }

    pub fn is_empty(&self) -> bool {
        self.held.iter().all(|w| w.strong_count() == 0)
    }

    /// Takes out the live requests `ready` picks (the rest keep waiting).
    pub fn take(&mut self, mut ready: impl FnMut(&Wait) -> bool) -> Vec<Rc<RefCell<Wait>>> {
        let mut out = Vec::new();
        self.held.retain(|w| {
            let Some(wait) = w.upgrade() else {
                return false;
            };
            if ready(&wait.borrow()) {
                out.push(wait);
                false
            } else {
                true
            }
        });
        out
    }
}

#[cfg(test)]
#[path = "waiting_tests.rs"]
mod tests;
