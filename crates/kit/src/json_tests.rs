use serde_json::json;

use super::*;

#[test]
fn claims_read_as_text_and_lists_hold_values() {
    let v = json!({"sub": "a", "n": 3, "z": null, "realm": {"t": "x"}, "roles": ["r1", "r2"]});
    let m = v.as_object().unwrap();
    assert_eq!(claim_text(m, "sub").as_deref(), Some("a"));
    assert_eq!(claim_text(m, "n").as_deref(), Some("3"));
    assert_eq!(claim_text(m, "z"), None);
    assert_eq!(claim_text(m, "nope"), None);
    assert_eq!(claim_text(m, "realm.t").as_deref(), Some("x"));
    assert!(claim_holds(m, "roles", "r2"));
    assert!(!claim_holds(m, "roles", "r3"));
    assert!(claim_holds(m, "sub", "a"));
    assert!(!claim_holds(m, "sub", "b"));
    assert!(!claim_holds(m, "missing", "a"));
}
