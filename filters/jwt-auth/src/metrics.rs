//! Counters, defined once and cached by id so a request pays one hostcall per count.
//!
//! Names (Envoy shows them with a `wasmcustom.` prefix):
//! * `jwt_auth.provider.<name>.allowed`
//! * `jwt_auth.provider.<name>.denied.<code>`, or `jwt_auth.denied.<code>` when no
//!   provider decided (a missing token)
//! * `jwt_auth.jwks.<name>.<fetch_ok|fetch_failed|fetch_invalid|adopted>`
//!
//! A host without metrics just counts nothing.

use tollgate_kit::Host;
use tollgate_kit::counters::Counters;

use crate::denial::Code;
use crate::jwks_fetch::FetchResult;

/// What a counter counts; with the provider, the key of its cached id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Event {
    Allowed,
    Denied(Code),
    Fetch(FetchResult),
}

#[derive(Default)]
pub struct Metrics {
    names: Vec<String>,
    counters: Counters<(Option<usize>, Event)>,
}

impl Metrics {
    pub fn new(provider_names: Vec<String>) -> Self {
        Self {
            names: provider_names,
            counters: Counters::default(),
        }
    }

    fn bump(&mut self, host: &dyn Host, provider: Option<usize>, event: Event) {
        let names = &self.names;
        // The name is built only the first time a counter is used.
        self.counters.inc(host, (provider, event), || {
            let (group, what) = match event {
                Event::Allowed => ("provider", "allowed".to_string()),
                Event::Denied(code) => ("provider", format!("denied.{}", code.as_str())),
                Event::Fetch(result) => ("jwks", result.as_str().to_string()),
            };
            match provider.and_then(|p| names.get(p)) {
                Some(n) => format!("jwt_auth.{group}.{n}.{what}"),
                None => format!("jwt_auth.{what}"),
            }
        });
    }

    pub fn allowed(&mut self, host: &dyn Host, provider: usize) {
        self.bump(host, Some(provider), Event::Allowed);
    }

    pub fn denied(&mut self, host: &dyn Host, provider: Option<usize>, code: Code) {
        self.bump(host, provider, Event::Denied(code));
    }

    pub fn fetch(&mut self, host: &dyn Host, provider: usize, result: FetchResult) {
        self.bump(host, Some(provider), Event::Fetch(result));
    }
}
