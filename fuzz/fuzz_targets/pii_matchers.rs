//! pii-mask's hand matchers against their specification: at every position of
//! arbitrary bytes, each built-in kind's matcher ends where its pattern, compiled as a
//! regex and searched anchored there, ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use tollgate_pii_mask::detect::Kind;

/// Each kind's pattern, compiled once.
fn spec() -> &'static [Regex] {
    static SPEC: std::sync::OnceLock<Vec<Regex>> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| {
        Kind::ALL
            .iter()
            .filter_map(|k| {
                Regex::builder()
                    .syntax(syntax::Config::new().unicode(false).utf8(false))
                    .build(k.pattern())
                    .ok()
            })
            .collect()
    })
}

fuzz_target!(|hay: &[u8]| {
    assert_eq!(spec().len(), Kind::ALL.len(), "every pattern compiles");
    for s in 0..=hay.len() {
        for (k, re) in Kind::ALL.iter().zip(spec()) {
            let expected = re
                .search(&Input::new(hay).range(s..).anchored(Anchored::Yes))
                .map(|m| m.end());
            assert_eq!(k.match_at(hay, s), expected, "{k:?} at {s}");
        }
    }
});
