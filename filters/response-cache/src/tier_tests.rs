use tollgate_kit::slots::MemorySlots;

use super::*;

fn tier(key: &[u8]) -> SharedTier {
    SharedTier {
        service: "t".into(),
        authority: "t".into(),
        key: key.to_vec(),
        authorization: String::new(),
        timeout_ms: 100,
        poll_ms: 250,
        horizon_s: 3600,
    }
}

#[test]
fn names_are_keyed_hmacs() {
    let a = tier(&[1; 32]);
    let b = tier(&[2; 32]);
    let k = [9u8; 32];
    let name = tier_key(&a, &k);
    assert_eq!(name.len(), 64);
    assert!(
        name.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(name, tier_key(&a, &k), "stable");
    assert_ne!(name, tier_key(&b, &k), "another secret, another name");
    assert_ne!(name, tier_key(&a, &[8u8; 32]));
}

#[test]
fn sealed_entries_open_only_untouched_and_with_the_key() {
    let a = tier(&[1; 32]);
    let sealed = seal(&a, b"entry bytes");
    assert_eq!(open(&a, &sealed), Some(&b"entry bytes"[..]));
    assert_eq!(open(&tier(&[2; 32]), &sealed), None, "another secret");
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 1;
        assert_eq!(open(&a, &bad), None, "byte {i} changed");
    }
    assert_eq!(open(&a, &sealed[..31]), None);
    assert_eq!(open(&a, &[]), None);
}

#[test]
fn ttls_polls_and_pages() {
    let a = tier(&[1; 32]);
    assert_eq!(ttl_seconds(&a, 1000, 900), 100);
    assert_eq!(ttl_seconds(&a, 100, 900), 1, "already useless: a second");
    assert_eq!(ttl_seconds(&a, 100_000, 0), 3600, "at most the horizon");
    assert_eq!(
        poll_path(&a, "", 5_000_000),
        "/v1/invalidations?since_ms=1400000"
    );
    assert_eq!(
        poll_path(&a, "17-2", 5_000_000),
        "/v1/invalidations?after=17-2"
    );
    let p = page(br#"{"next": "5-0", "items": [{"scopes": ["u h /a"], "at_ns": 3}]}"#).unwrap();
    assert_eq!(p.next, "5-0");
    assert_eq!(
        p.items,
        vec![Published {
            scopes: vec!["u h /a".into()],
            at_ns: 3
        }]
    );
    assert!(page(b"{}").is_err());
    assert!(page(br#"{"next": "1-0", "items": [], "x": 1}"#).is_err());
}

#[test]
fn one_poller_holds_the_lease_and_the_cursor_is_shared() {
    let state = MemorySlots::new(STATE_SLOTS);
    assert!(take_lease(&state, 100, 50).unwrap());
    assert!(!take_lease(&state, 120, 50).unwrap(), "held until 150");
    assert!(take_lease(&state, 150, 50).unwrap(), "expired");
    assert_eq!(cursor(&state).unwrap(), "");
    advance(&state, "9-1").unwrap();
    assert_eq!(cursor(&state).unwrap(), "9-1");
}
