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

#[derive(Default)]
pub struct Metrics {
    names: Vec<String>,
    counters: Counters<(Option<usize>, &'static str)>,
}

impl Metrics {
    pub fn new(provider_names: Vec<String>) -> Self {
        Self {
            names: provider_names,
            counters: Counters::default(),
        }
    }

    fn bump(&mut self, host: &dyn Host, provider: Option<usize>, what: &'static str, group: &str) {
        let names = &self.names;
        self.counters.inc(host, (provider, what), || {
            match provider.and_then(|p| names.get(p)) {
                Some(n) => format!("jwt_auth.{group}.{n}.{what}"),
                None => format!("jwt_auth.{what}"),
            }
        });
    }

    pub fn allowed(&mut self, host: &dyn Host, provider: usize) {
        self.bump(host, Some(provider), "allowed", "provider");
    }

    pub fn denied(&mut self, host: &dyn Host, provider: Option<usize>, code: Code) {
        self.bump(host, provider, code.denied_metric(), "provider");
    }

    pub fn fetch(&mut self, host: &dyn Host, provider: usize, result: FetchResult) {
        self.bump(host, Some(provider), result.as_str(), "jwks");
    }
}
