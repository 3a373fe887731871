use super::*;

/// A cache past its warm-up.
fn warm() -> CleanNames {
    CleanNames {
        misses: WARMUP,
        ..CleanNames::default()
    }
}

#[test]
fn nothing_is_kept_during_the_warm_up() {
    let mut c = CleanNames::default();
    for _ in 0..WARMUP {
        assert!(!c.missed());
    }
    assert!(c.slots.is_empty(), "nothing allocated");
    assert!(c.missed());
    assert!(c.missed(), "and from then on");
}

#[test]
fn a_kept_name_is_found_with_its_phone_flag() {
    let mut c = warm();
    assert_eq!(c.get(b"email"), None);
    c.put(b"email", false);
    c.put(b"phone", true);
    assert_eq!(c.get(b"email"), Some(false));
    assert_eq!(c.get(b"phone"), Some(true));
    assert_eq!(c.get(b"emai"), None);
    assert_eq!(c.get(b"emails"), None);
    assert_eq!(c.get(b""), None);
}

#[test]
fn nothing_is_allocated_before_the_first_name() {
    let mut c = warm();
    assert!(c.slots.is_empty());
    assert_eq!(c.get(b"id"), None);
    c.put(b"id", false);
    assert_eq!(c.slots.len(), SLOTS);
}

#[test]
fn long_names_are_not_kept() {
    let mut c = warm();
    let at_limit = vec![b'a'; LONGEST];
    let over = vec![b'a'; LONGEST + 1];
    c.put(&at_limit, false);
    c.put(&over, false);
    assert_eq!(c.get(&at_limit), Some(false));
    assert_eq!(c.get(&over), None);
}

#[test]
fn a_name_takes_its_second_slot_when_the_first_is_taken() {
    let names: Vec<Vec<u8>> = (0..5000).map(|i| format!("n{i}").into_bytes()).collect();
    // Three names with the same first slot, the second one's second slot free.
    let same: Vec<&Vec<u8>> = names
        .iter()
        .filter(|n| slots(n)[0] == slots(&names[0])[0])
        .take(3)
        .collect();
    let [a, b, c] = same[..] else {
        panic!("{same:?}")
    };
    assert!(slots(b)[1] != slots(a)[0]);
    assert!(slots(c)[1] != slots(a)[0] && slots(c)[1] != slots(b)[1]);
    let mut cache = warm();
    cache.put(a, true);
    cache.put(b, false);
    assert_eq!((cache.get(a), cache.get(b)), (Some(true), Some(false)));
    // Both of `c`'s choices: its first is `a`'s; its second is free, so it goes there.
    cache.put(c, false);
    assert_eq!(cache.get(a), Some(true));
    assert_eq!(cache.get(c), Some(false));
}

#[test]
fn with_both_slots_taken_the_first_is_replaced() {
    let mut cache = warm();
    let names: Vec<Vec<u8>> = (0..5000).map(|i| format!("n{i}").into_bytes()).collect();
    let x = &names[0];
    let [first, second] = slots(x);
    let holder = |s: usize| names.iter().skip(1).find(|n| slots(n)[0] == s).unwrap();
    let (p, q) = (holder(first), holder(second));
    cache.put(p, false);
    cache.put(q, false);
    cache.put(x, true);
    assert_eq!(cache.get(x), Some(true));
    assert_eq!(cache.get(p), None, "the first slot's name went");
    assert_eq!(cache.get(q), Some(false));
}

#[test]
fn names_spread_over_the_slots() {
    let firsts: std::collections::BTreeSet<usize> = (0..2000)
        .map(|i| slots(format!("field_{i}").as_bytes())[0])
        .collect();
    let seconds: std::collections::BTreeSet<usize> = (0..2000)
        .map(|i| slots(format!("field_{i}").as_bytes())[1])
        .collect();
    assert_eq!((firsts.len(), seconds.len()), (SLOTS, SLOTS));
}

#[test]
fn a_records_names_all_stay() {
    // The corpus' record: every name is found again after one pass.
    let record = [
        "id",
        "order",
        "name",
        "email",
        "phone",
        "address",
        "card",
        "iban",
        "last_login",
        "ip",
        "at",
        "agent",
        "balance",
        "tags",
        "note",
        "version",
        "active",
    ];
    let mut cache = warm();
    for n in record {
        cache.put(n.as_bytes(), n == "phone");
    }
    for n in record {
        assert_eq!(cache.get(n.as_bytes()), Some(n == "phone"), "{n}");
    }
}
