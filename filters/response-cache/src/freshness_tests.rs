use super::*;

fn f(lifetime: u64) -> Freshness {
    Freshness {
        lifetime,
        initial_age: 0,
        response_time: 1000,
        ..Freshness::default()
    }
}

#[test]
fn ages_and_staleness() {
    let x = Freshness {
        initial_age: 5,
        ..f(10)
    };
    assert_eq!(x.age(1000), 5);
    assert_eq!(x.age(990), 5, "a clock that went back adds nothing");
    assert!(x.is_fresh(1004) && !x.is_fresh(1005));
    assert_eq!(x.staleness(1008), 3);
    assert_eq!(x.useless_after(), 1005);
    let kept = Freshness {
        validator: true,
        stale_if_error: 100,
        ..f(10)
    };
    assert_eq!(kept.useless_after(), 1000 + 10 + 100 + 60);
    let strict = Freshness {
        forbids_stale: true,
        stale_if_error: 100,
        ..f(10)
    };
    assert_eq!(strict.useless_after(), 1010);
}

#[test]
fn windows_for_stale_use() {
    let none = RequestDirectives::default();
    let swr = Freshness {
        stale_while_revalidate: 5,
        ..f(10)
    };
    assert_eq!(usable(&swr, &none, 1009), Use::Fresh);
    assert_eq!(usable(&swr, &none, 1015), Use::StaleWhileRevalidate);
    assert_eq!(usable(&swr, &none, 1016), Use::Revalidate);
    assert_eq!(
        usable(&f(10), &none, 1010),
        Use::Revalidate,
        "no window at all"
    );
    let sie = Freshness {
        stale_if_error: 5,
        ..f(10)
    };
    assert!(serves_on_error(&sie, 503, 1015));
    assert!(!serves_on_error(&sie, 503, 1016));
    assert!(!serves_on_error(&sie, 404, 1012));
    assert!(!serves_on_error(&f(10), 503, 1011), "no window");
    assert!(serves_on_error(&f(10), 502, 1005), "fresh stands in");
    let no_cache = Freshness {
        no_cache: true,
        ..sie
    };
    assert!(!serves_on_error(&no_cache, 503, 1005));
}

#[test]
fn min_fresh_at_its_boundary() {
    let req = RequestDirectives {
        min_fresh: Some(5),
        ..RequestDirectives::default()
    };
    assert_eq!(usable(&f(10), &req, 1005), Use::Fresh);
    assert_eq!(usable(&f(10), &req, 1006), Use::Revalidate);
}
