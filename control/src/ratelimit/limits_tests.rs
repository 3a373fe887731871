use super::*;

const CONFIG: &str = r#"{"global": {"service": "rls", "domain": "edge"},
  "rules": [
    {"name": "per-user", "global": true, "key": [{"claim": "sub"}],
     "limits": [{"requests": 10, "per": "1s"}, {"requests": 1000, "per": "1h"}],
     "overrides": [{"when": {"claim": "plan", "value": "gold"}, "limits": [{"requests": 100, "per": "1s"}]}]},
    {"name": "local-only", "limits": [{"requests": 5, "per": "1s"}]}
  ]}"#;

#[test]
fn global_rules_and_their_overrides_become_limits() {
    let l = from_config(CONFIG.as_bytes()).unwrap();
    assert_eq!(l.domain, "edge");
    assert_eq!(l.sets, ["per-user", "per-user#0"]);
    let mut got: Vec<(u64, u64, Option<&str>)> = l
        .limits
        .iter()
        .map(|x| (x.max_value(), x.seconds(), x.name()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (10, 1, Some("per-user-1s")),
            (100, 1, Some("per-user")),
            (1000, 3600, Some("per-user-1h"))
        ]
    );
    assert!(l.limits.iter().all(|x| x.namespace().as_ref() == "edge"));
}

#[test]
fn configs_without_global_limits_or_invalid_are_refused() {
    let e = from_config(br#"{"rules": [{"name": "r", "limits": [{"requests": 1, "per": "1s"}]}]}"#)
        .unwrap_err();
    assert!(e.contains("no rate-limit service"), "{e}");
    let e = from_config(br#"{"global": {"service": "rls"}, "rules": [{"name": "r", "limits": [{"requests": 1, "per": "1s"}]}]}"#).unwrap_err();
    assert!(e.contains("no global rules"), "{e}");
    let e =
        from_config(br#"{"rules": [{"name": "r", "limits": [{"requests": 1, "per": "soon"}]}]}"#)
            .unwrap_err();
    assert!(e.contains("rules[0].limits[0].per"), "{e}");
}
