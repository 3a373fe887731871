use super::*;

fn verified(exp: Option<f64>) -> Rc<Verified> {
    let mut claims = Map::new();
    if let Some(exp) = exp {
        claims.insert("exp".into(), Value::from(exp));
    }
    Rc::new(Verified {
        claims,
        payload: String::new(),
        credentials: None,
    })
}

#[test]
fn hit_until_exp_plus_skew() {
    let mut c = TokenCache::new(4);
    let fp = fingerprint("a.b.c");
    c.put(0, fp, verified(Some(1_000.0)), 900.0, 60.0, 3_600.0);
    assert!(c.get(0, &fp, 1_059.0).is_some());
    assert!(c.get(0, &fp, 1_060.0).is_none());
    assert!(c.is_empty(), "an expired entry is dropped");
    assert_eq!((c.hits, c.misses), (1, 1));
}

#[test]
fn keyed_by_provider_and_bounded() {
    let mut c = TokenCache::new(2);
    for (i, t) in ["t1", "t2", "t3"].iter().enumerate() {
        c.put(i % 2, fingerprint(t), verified(None), 0.0, 60.0, 300.0);
    }
    assert_eq!(c.len(), 2);
    assert!(
        c.get(0, &fingerprint("t1"), 1.0).is_none(),
        "least recently used went first"
    );
    assert!(
        c.get(1, &fingerprint("t3"), 1.0).is_none(),
        "another provider's entry"
    );
    assert!(c.get(0, &fingerprint("t3"), 1.0).is_some());
    assert!(
        c.get(0, &fingerprint("t3"), 301.0).is_none(),
        "max_age bounds tokens without exp"
    );
}

#[test]
fn forget_provider_and_disabled_cache() {
    let mut c = TokenCache::new(8);
    c.put(0, fingerprint("x"), verified(None), 0.0, 0.0, 10.0);
    c.put(1, fingerprint("y"), verified(None), 0.0, 0.0, 10.0);
    c.forget_provider(0);
    assert_eq!(c.len(), 1);
    let mut off = TokenCache::new(0);
    off.put(0, fingerprint("x"), verified(None), 0.0, 0.0, 10.0);
    assert!(off.get(0, &fingerprint("x"), 1.0).is_none());
}

#[test]
fn already_expired_tokens_are_not_cached() {
    let mut c = TokenCache::new(8);
    c.put(0, fingerprint("x"), verified(Some(10.0)), 100.0, 5.0, 10.0);
    assert!(c.is_empty());
}

#[test]
fn a_token_expiring_now_is_not_cached_and_emptiness_is_reported() {
    let mut c = TokenCache::new(4);
    assert!(c.is_empty());
    // exp + skew == now: already invalid, not kept.
    c.put(
        0,
        fingerprint("a"),
        verified(Some(940.0)),
        1_000.0,
        60.0,
        300.0,
    );
    assert!(c.is_empty());
    c.put(
        0,
        fingerprint("b"),
        verified(Some(941.0)),
        1_000.0,
        60.0,
        300.0,
    );
    assert!(!c.is_empty());
    assert_eq!(c.len(), 1);
}
