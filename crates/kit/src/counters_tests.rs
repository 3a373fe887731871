use super::*;
use crate::mock::MockHost;

#[test]
fn defines_once_then_increments() {
    let host = MockHost::new();
    let mut c = Counters::default();
    for _ in 0..3 {
        c.inc(&host, "a", || "x.a".to_string());
    }
    let defines = host
        .state
        .borrow()
        .hostcalls
        .iter()
        .filter(|h| **h == "proxy_define_metric")
        .count();
    assert_eq!(defines, 1);
    let value = host
        .state
        .borrow()
        .metrics
        .values()
        .find(|(_, n, _)| n == "x.a")
        .map(|m| m.2);
    assert_eq!(value, Some(3));
}

#[test]
fn a_host_without_metrics_counts_nothing() {
    let host = MockHost::without(&["proxy_define_metric"]);
    let mut c = Counters::default();
    c.inc(&host, 1u8, || "x".to_string());
    c.inc(&host, 1u8, || "x".to_string());
    assert!(host.state.borrow().metrics.is_empty());
}
