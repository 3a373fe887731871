use super::*;

fn all() -> Detectors {
    Detectors::new(&[], &Kind::ALL).unwrap()
}

fn found(text: &str) -> Vec<(Detector, String)> {
    all()
        .find_all(text.as_bytes())
        .into_iter()
        .map(|f| (f.detector, text[f.span.0..f.span.1].to_string()))
        .collect()
}

#[test]
fn a_pattern_that_stops_inside_a_group_is_finished_by_the_validator() {
    assert_eq!(
        found("mobile 03949 86510, ok"),
        vec![(Detector::Builtin(Kind::Phone), "03949 86510".to_string())]
    );
}

/// The prefilter is exact both ways: it never passes over a text that holds a trigger,
/// and it does pass over prose (a looser prefilter would cost only time, so nothing
/// else would notice).
#[test]
fn may_match_passes_over_prose_and_nothing_else() {
    let d = all();
    for text in [
        "",
        "Ms Helen Mistry",
        "Jane",
        "eye",
        "ey J",
        "yJ",
        "bearing",
        "Bear",
        "ABBA",
        "AKIB",
        "AKI",
        "A",
        "b",
        "J",
        "Increase enter attorney pressure.",
    ] {
        assert!(!d.may_match(text.as_bytes()), "{text:?}");
    }
    for text in [
        "7",
        "a@b",
        "a:b",
        "a_b",
        "eyJ",
        "xeyJ",
        "bearer",
        "Bearer",
        "BEARER x",
        "AKIA",
        "xAKIA",
        "ASCA",
        "ASIA",
        "Jane Doe, 42",
        "ABBA AKIA",
    ] {
        assert!(d.may_match(text.as_bytes()), "{text:?}");
    }
    let custom = Detectors::new(&["zz".to_string()], &Kind::ALL).unwrap();
    assert!(custom.may_match(b"prose"));
}

/// A config with one detector holds back what that detector's validator reads past its
/// pattern, not only the pattern (with every detector a longer pattern hides this).
#[test]
fn one_kind_alone_holds_back_what_its_validator_reads_past_the_pattern() {
    for (k, reads_past) in [
        (Kind::Jwt, JWT_MAX),
        (Kind::Bearer, BEARER_MAX + 4),
        (Kind::Phone, validate::PHONE_TAIL + 1),
        (Kind::Email, 0),
    ] {
        let longest = check_custom(k.pattern()).unwrap();
        let window = Detectors::new(&[], &[k]).unwrap().window();
        assert_eq!(window, longest + reads_past + 1, "{k:?}");
    }
}
