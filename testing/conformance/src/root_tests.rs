//! Unit tests of `root`.

use super::*;

#[test]
fn config_defaults_and_errors() {
    let c = config::load::<ConformanceConfig>(b"").unwrap();
    assert_eq!(c.callout_cluster, "upstream");
    assert_eq!(c.tick_ms, 50);
    let e = config::load::<ConformanceConfig>(br#"{"tick_ms": 70000}"#).unwrap_err();
    assert_eq!(e.path, "tick_ms");
    let e = config::load::<ConformanceConfig>(br#"{"clster": "x"}"#).unwrap_err();
    assert!(e.message.contains("unknown field"), "{e}");
}
