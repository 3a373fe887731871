use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::config::input_path;

fn cache(max: usize) -> DecisionCache {
    DecisionCache::new(&CacheSettings {
        keys: vec![
            input_path("token.sub").unwrap(),
            input_path("parsed_path").unwrap(),
        ],
        ttl: Duration::from_secs(5),
        max_entries: max,
    })
}

#[test]
fn keys_are_the_configured_values_and_entries_expire_and_are_bounded() {
    let mut c = cache(2);
    let a = json!({"token": {"sub": "alice"}, "parsed_path": ["x"], "other": 1});
    let a2 = json!({"token": {"sub": "alice"}, "parsed_path": ["x"], "other": 2});
    let b = json!({"token": {"sub": "bob"}, "parsed_path": ["x"]});
    assert_eq!(c.key(&a), c.key(&a2));
    assert_ne!(c.key(&a), c.key(&b));
    assert_eq!(c.key(&json!({})), c.key(&json!({"token": {"sub": null}})));
    // Digests: a keyed credential is never held.
    let with_secret = json!({"token": {"sub": "Bearer secret-token"}, "parsed_path": []});
    assert!(!String::from_utf8_lossy(&c.key(&with_secret)).contains("secret"));
    let t0 = UNIX_EPOCH + Duration::from_secs(100);
    assert!(c.is_empty());
    assert!(format!("{c:?}").contains("entries: 0"));
    let d = Rc::new(Decision {
        allowed: true,
        ..Decision::default()
    });
    c.put(c.key(&a), Rc::clone(&d), t0);
    assert!(c.get(&c.key(&a2), t0 + Duration::from_secs(4)).is_some());
    assert!(c.get(&c.key(&a), t0 + Duration::from_secs(5)).is_none());
    for i in 0..5u8 {
        c.put([i; 32], Rc::clone(&d), t0);
    }
    assert_eq!(c.len(), 2);
    assert!(!c.is_empty());
}
