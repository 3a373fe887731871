use super::*;

fn apply(a: &Action, kind: Option<Kind>, v: &str, key: &PseudonymKey) -> String {
    let mut out = Vec::new();
    a.apply(kind, v.as_bytes(), key, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn placeholder_partial_and_remove() {
    let k = PseudonymKey::default();
    assert_eq!(
        apply(&Action::Placeholder("EMAIL".into()), None, "a@b.co", &k),
        "[EMAIL]"
    );
    assert_eq!(
        apply(
            &Action::Partial { keep: 4 },
            None,
            "4111-1111-1111-1111",
            &k
        ),
        "****-****-****-1111"
    );
    assert_eq!(
        apply(&Action::Partial { keep: 0 }, None, "ab-c", &k),
        "**-*"
    );
    assert_eq!(apply(&Action::Partial { keep: 8 }, None, "abc", &k), "abc");
    assert_eq!(apply(&Action::Remove, None, "x", &k), "");
    assert!(!Action::Placeholder("X".into()).needs_value());
    assert!(Action::Partial { keep: 1 }.needs_value());
}

#[test]
fn pseudonyms_are_keyed_normalised_and_sized() {
    let k1 = PseudonymKey::new(vec![7; 32]);
    let k2 = PseudonymKey::new(vec![8; 32]);
    let a = Action::Pseudonym {
        label: "CARD".into(),
        hex: 9,
    };
    let x = apply(&a, Some(Kind::Card), "4111 1111 1111 1111", &k1);
    assert_eq!(x, apply(&a, Some(Kind::Card), "4111-1111-1111-1111", &k1));
    assert_ne!(
        x,
        apply(&a, Some(Kind::Card), "4111 1111 1111 1111", &k2),
        "another key, another pseudonym"
    );
    assert_eq!(x.len(), "[CARD:]".len() + 9);
    let e = Action::Pseudonym {
        label: "EMAIL".into(),
        hex: 16,
    };
    assert_eq!(
        apply(&e, Some(Kind::Email), "A@B.CO", &k1),
        apply(&e, Some(Kind::Email), "a@b.co", &k1)
    );
    assert_ne!(
        apply(&e, None, "A@B.CO", &k1),
        apply(&e, None, "a@b.co", &k1),
        "custom values are hashed as they are"
    );
    assert_eq!(
        format!("{k1:?}"),
        "PseudonymKey(..)",
        "the key never reaches a log"
    );
}

/// What is hashed for each kind: digits (and `+`) of cards, phones and SSNs; an IBAN
/// without its spaces, in capitals; an email or IPv6 address in lower case; anything
/// else as it is.
#[test]
fn values_are_normalised_per_kind_before_hashing() {
    let cases: [(Option<Kind>, &str, &str); 8] = [
        (Some(Kind::Card), "4111-1111 1111-1111", "4111111111111111"),
        (Some(Kind::Phone), "+1 (415) 555-2671", "+14155552671"),
        (Some(Kind::Ssn), "123 45-6789", "123456789"),
        (
            Some(Kind::Iban),
            "gb82 West 1234 5698 7654 32",
            "GB82WEST12345698765432",
        ),
        (
            Some(Kind::Email),
            "Jane.Roe@Example.COM",
            "jane.roe@example.com",
        ),
        (Some(Kind::Ipv6), "2001:DB8::A", "2001:db8::a"),
        (Some(Kind::Ipv4), "10.0.0.1", "10.0.0.1"),
        (None, "Emp-1234 X", "Emp-1234 X"),
    ];
    for (kind, value, want) in cases {
        assert_eq!(
            normalise(kind, value.as_bytes()),
            want.as_bytes(),
            "{kind:?}"
        );
    }
}
