//! The shared foundation of every Tollgate filter.
//!
//! * [`Host`] is the one trait a filter uses to talk to its proxy. [`abi`] implements
//!   it over the proxy-wasm ABI (wasm32 only); `mock::MockHost` implements it for
//!   native tests (feature `mock`, which filters take as a dev-dependency only).
//! * Every hostcall returns a [`HostResult`] instead of panicking, so a filter sees an
//!   `Unimplemented` status (APISIX has no shared data, queues, timers or gRPC) and
//!   degrades instead of trapping.
//! * [`config`] turns configuration bytes into a typed config and then into a compiled,
//!   ready form, with errors that name the field's path; [`slot::ConfigSlot`] holds the
//!   compiled config so it can be swapped while requests flow.
//! * [`filter`] defines the callbacks a filter implements; [`abi`] dispatches the
//!   proxy-wasm exports to them.
//! * [`pull`] keeps a filter's config current from the control service (a `control`
//!   block in the plugin configuration): signed documents only, one poller per process,
//!   the last good config kept.

pub mod config;
pub mod connection;
pub mod contract;
pub mod counters;
pub mod facts;
pub mod filter;
pub mod gate;
pub mod host;
pub mod json;
#[cfg(any(test, feature = "mock"))]
pub mod mock;
pub mod mutation;
pub mod pairs;
pub mod path;
pub mod percent;
pub mod pull;
pub mod removal;
pub mod reply;
pub mod request;
pub mod route;
pub mod slot;
pub mod slots;
pub mod target;
pub mod types;

#[cfg(target_arch = "wasm32")]
pub mod abi;

pub use facts::{HostFacts, HostKind};
pub use filter::{BodyAction, Callouts, HeadersAction, RootFilter, StreamFilter, TrailersAction};
pub use gate::Verdict;
pub use host::{Host, HostError, HostResult};
pub use mutation::Mutation;
pub use request::RequestView;
pub use types::{BufferKind, LogLevel, MapKind, MetricKind, Status, StreamKind};

/// Declares a filter's root factory: the ABI layer calls it once per root context.
///
/// ```ignore
/// tollgate_kit::export_filter!(MyRoot::default());
/// ```
#[macro_export]
macro_rules! export_filter {
    ($factory:expr) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub fn __tollgate_new_root() -> ::std::boxed::Box<dyn $crate::RootFilter> {
            ::std::boxed::Box::new($factory)
        }
    };
}
