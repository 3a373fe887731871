//! rate-limit's attacker-facing parsing: a request's decision from arbitrary paths,
//! header values, payload headers and peer addresses over a small shared table (never a
//! panic, and a refusal never more than the configured budget admits), and the rate-limit
//! service's answers (protobuf and JSON) read for any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::HostFacts;
use tollgate_rate_limit::decide::{Request, Verdict, decide};
use tollgate_rate_limit::rls;
use tollgate_kit::slots::MemorySlots;

const CONFIG: &str = r#"{"local": {"max_keys": 16},
  "rules": [
    {"name": "user", "key": [{"claim": "sub"}, {"header": "x-k"}], "missing": "group",
     "limits": [{"requests": 3, "per": "1s"}], "exempt": [{"claim": "roles", "value": "ops"}],
     "overrides": [{"when": {"claim": "plan", "value": "gold"}, "limits": [{"requests": 5, "per": "1s"}]}]},
    {"name": "ip", "match": {"regex": "^/a"}, "hosts": ["*.x.test"], "key": ["client_address", "path", "method"],
     "limits": [{"requests": 2, "per": "1s"}]}],
  "client": {"xff_trusted_hops": 2}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = tollgate_rate_limit::config::load(CONFIG.as_bytes(), HostFacts::default()) else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}');
    let mut next = || parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = vec![
        (":method".into(), next()),
        (":path".into(), next()),
        (":authority".into(), next()),
        ("x-k".into(), next()),
        ("x-forwarded-for".into(), next()),
        ("x-tollgate-jwt-payload".into(), next()),
    ];
    let peer = next();
    let slots = MemorySlots::new(config.max_keys);
    let mut admitted = 0;
    for i in 0..8u64 {
        let d = decide(&config, config.mode, &slots, (1, 2), &Request { headers: &headers, peer: Some(&peer), now: 1_000 + i });
        if matches!(d.verdict, Verdict::Pass(_)) && d.events.iter().any(|(_, e)| e.name() == "allowed") {
            admitted += 1;
        }
    }
    // The tightest budget any bucket can grant at one instant is 5 (the gold override).
    assert!(admitted <= 5, "{admitted}");
    let _ = rls::decode(data, 3);
    let _ = rls::decode_json(data, 3);
});
