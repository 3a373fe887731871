use envoy_types::pb::io::prometheus::client::{Counter, Metric};

use super::*;

fn family(name: &str, value: f64) -> MetricFamily {
    MetricFamily {
        name: Some(name.into()),
        metric: vec![Metric {
            counter: Some(Counter {
                value: Some(value),
                ..Counter::default()
            }),
            ..Metric::default()
        }],
        ..MetricFamily::default()
    }
}

#[test]
fn a_sample_sums_the_connection_managers_but_not_the_admin_listener() {
    let s = sample_of(
        &[
            family("http.ingress.downstream_rq_completed", 100.0),
            family("http.edge.downstream_rq_completed", 50.0),
            family("http.ingress.downstream_rq_5xx", 3.0),
            family("http.ingress.downstream_rq_4xx", 7.0),
            family("http.ingress.downstream_rq_2xx", 140.0),
            family("http.admin.downstream_rq_completed", 1000.0),
            family("http.admin.downstream_rq_4xx", 1000.0),
            family("cluster.api.upstream_rq_5xx", 9.0),
        ],
        1.0,
    );
    assert_eq!((s.requests, s.errors), (150.0, 10.0));
}

fn sample(at: f64, requests: f64, errors: f64) -> Sample {
    Sample {
        at,
        requests,
        errors,
    }
}

#[test]
fn a_window_is_the_difference_of_its_first_and_last_samples() {
    let signals = Signals::default();
    for (at, r, e) in [
        (10.0, 100.0, 1.0),
        (15.0, 150.0, 2.0),
        (20.0, 200.0, 30.0),
        (25.0, 260.0, 31.0),
    ] {
        signals.record("p", "gw", sample(at, r, e));
    }
    let w = signals.window("p", "gw", 12.0, 21.0).unwrap();
    assert_eq!((w.requests, w.errors), (50.0, 28.0));
    assert!((w.rate() - 0.56).abs() < 1e-9);
    assert_eq!(
        signals.window("p", "gw", 14.0, 16.0),
        None,
        "one sample is no window"
    );
    assert_eq!(signals.window("p", "other", 0.0, 100.0), None);
    assert_eq!(Window::default().rate(), 0.0);
}

#[test]
fn a_restarted_gateway_starts_a_new_history_and_the_history_is_bounded() {
    let signals = Signals::default();
    signals.record("p", "gw", sample(1.0, 100.0, 5.0));
    signals.record("p", "gw", sample(2.0, 10.0, 0.0));
    signals.record("p", "gw", sample(3.0, 20.0, 1.0));
    let w = signals.window("p", "gw", 0.0, 10.0).unwrap();
    assert_eq!((w.requests, w.errors), (10.0, 1.0));
    for i in 0..(KEPT + 10) {
        signals.record("p", "many", sample(i as f64, i as f64, 0.0));
    }
    let w = signals.window("p", "many", 0.0, 1e9).unwrap();
    assert_eq!(w.requests, (KEPT - 1) as f64);
}

#[test]
fn samples_count_only_for_the_project_whose_token_sent_them() {
    let signals = Signals::default();
    signals.record("a", "gw", sample(1.0, 0.0, 0.0));
    signals.record("a", "gw", sample(2.0, 10.0, 10.0));
    assert!(signals.window("a", "gw", 0.0, 5.0).is_some());
    assert_eq!(
        signals.window("b", "gw", 0.0, 5.0),
        None,
        "project b's gw is another gateway"
    );
}
