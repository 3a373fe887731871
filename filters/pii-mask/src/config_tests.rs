use super::*;

#[test]
fn an_empty_config_masks_every_kind_with_its_placeholder() {
    let c = load(b"{}", HostFacts::default()).unwrap();
    assert_eq!(c.detector_names.len(), 12);
    assert!(c.warnings.is_empty());
    assert_eq!(c.max_body_bytes, 16 << 20);
    assert_eq!(c.on_oversize, Choice::Block);
    assert!(c.rewrites_bodies);
    assert!(c.masker.key.is_empty(), "no key unless given");
    let keyed = br#"{"pseudonym_key": "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="}"#;
    let c = load(keyed, HostFacts::default()).unwrap();
    assert!(!c.masker.key.is_empty(), "the key given is kept");
}

#[test]
fn nothing_to_mask_is_said() {
    let off: serde_json::Map<String, serde_json::Value> = crate::detect::Kind::ALL
        .iter()
        .map(|k| (k.name().to_string(), serde_json::json!({"enabled": false})))
        .collect();
    let cfg = serde_json::json!({"detectors": off}).to_string();
    let c = load(cfg.as_bytes(), HostFacts::default()).unwrap();
    assert!(c.warnings.iter().any(|w| w.contains("nothing is masked")));
}

#[test]
fn custom_names_become_metrics_and_labels() {
    let c = load(
        br#"{"custom": [{"name": "emp", "pattern": "EMP-[0-9]{4}"}]}"#,
        HostFacts::default(),
    )
    .unwrap();
    assert_eq!(
        c.detector_names.get(&(1, 0)).map(String::as_str),
        Some("custom_emp")
    );
    assert_eq!(
        c.masker.actions.get(&(1, 0)),
        Some(&Action::Placeholder("EMP".into()))
    );
    let two = br#"{"custom": [{"name": "emp", "pattern": "EMP-[0-9]{4}"},
                             {"name": "badge", "pattern": "B[0-9]{6}"}]}"#;
    let c = load(two, HostFacts::default()).unwrap();
    assert_eq!(
        c.detector_names.get(&(1, 1)).map(String::as_str),
        Some("custom_badge")
    );
}

/// The claims an exemption reads come, by default, from the header jwt-auth writes
/// them to (the kit's contract), and `keep` is allowed up to 8 exactly.
#[test]
fn defaults_and_bounds_are_the_documented_ones() {
    let c = load(b"{}", HostFacts::default()).unwrap();
    assert_eq!(c.claims_header, tollgate_kit::contract::PAYLOAD_HEADER);
    let keep = |n: usize| {
        let cfg = format!(
            r#"{{"detectors": {{"card": {{"action": {{"type": "partial", "keep": {n}}}}}}}}}"#
        );
        load(cfg.as_bytes(), HostFacts::default()).map(|_| ())
    };
    assert!(keep(8).is_ok());
    let err = keep(9).unwrap_err().to_string();
    assert!(err.contains("detectors.card.action.keep"), "{err}");
}
