use super::*;

fn sample() -> Entry {
    Entry {
        key: [7; 32],
        request_time_ns: 42,
        freshness: Freshness {
            lifetime: 60,
            initial_age: 3,
            response_time: 1000,
            no_cache: true,
            forbids_stale: false,
            stale_while_revalidate: 5,
            stale_if_error: 9,
            validator: true,
        },
        status: 203,
        vary: vec![
            ("accept".into(), Some("a".into())),
            ("x-absent".into(), None),
            ("x-empty".into(), Some(String::new())),
        ],
        headers: vec![("etag".into(), "\"v\"".into()), ("x".into(), String::new())],
        body: b"body \x00 bytes".to_vec(),
    }
}

#[test]
fn round_trips() {
    let e = sample();
    assert_eq!(Entry::decode(&e.encode()), Some(e.clone()));
    assert_eq!(e.header("etag"), Some("\"v\""));
    assert_eq!(e.header("nope"), None);
}

#[test]
fn anything_else_is_no_entry() {
    let bytes = sample().encode();
    assert_eq!(Entry::decode(&[]), None);
    let mut other = bytes.clone();
    other[0] = 2;
    assert_eq!(Entry::decode(&other), None, "another format");
    for cut in [1, 33, 41, 80, 90, 95] {
        assert_eq!(Entry::decode(&bytes[..cut]), None, "cut at {cut}");
    }
}

#[test]
fn hop_by_hop_and_pseudo_headers_are_not_stored() {
    let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    };
    let stored = storable_headers(&h(&[
        (":status", "200"),
        ("connection", "x-a, X-B"),
        ("x-a", "1"),
        ("x-b", "2"),
        ("x-c", "3"),
        ("transfer-encoding", "chunked"),
        ("content-length", "5"),
        ("age", "1"),
    ]));
    assert_eq!(stored, h(&[("x-c", "3")]));
}
