//! Unit tests of `pairs`.

use super::*;

#[test]
fn round_trip() {
    let pairs = vec![
        (":path", "/a"),
        ("x-empty", ""),
        ("x-dup", "1"),
        ("x-dup", "2"),
    ];
    let bytes = encode(&pairs);
    let back = decode_lossy(&bytes).unwrap();
    let expected: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(back, expected);
}

#[test]
fn empty_input_is_empty_map() {
    assert!(decode(&[]).unwrap().is_empty());
    assert!(decode(&encode::<&str, &str>(&[])).unwrap().is_empty());
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    let good = encode(&[("a", "b")]);
    for cut in 1..good.len() {
        assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut bad_nul = good.clone();
    let last = bad_nul.len() - 1;
    bad_nul[last] = b'x';
    assert!(decode(&bad_nul).is_err());
    assert!(decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
    // Slack after the last pair is ignored: APISIX's response header map has some.
    assert_eq!(decode(&[0, 0, 0, 0, 10]), Ok(Vec::new()));
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0, 0, 0, 7]);
    assert_eq!(decode(&trailing), decode(&good));
}

#[test]
fn first_takes_the_first_value_or_nothing() {
    let pairs = vec![
        ("a".to_string(), "1".to_string()),
        ("b".to_string(), "2".to_string()),
        ("a".to_string(), "3".to_string()),
    ];
    assert_eq!(first(&pairs, "a"), "1");
    assert_eq!(first(&pairs, "b"), "2");
    assert_eq!(first(&pairs, "c"), "");
}
