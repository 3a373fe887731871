//! The record of every hostcall a filter made, for assertions such as "reads the
//! request headers in one call" or "never touches shared data on APISIX".

use tollgate_kit::Status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostcallRecord {
    /// Index of the worker VM that made the call.
    pub worker: usize,
    /// The effective context when the call was made.
    pub context_id: u32,
    pub name: &'static str,
    pub status: Status,
}
