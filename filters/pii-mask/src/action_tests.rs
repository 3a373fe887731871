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
