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

/// The kinds a word lets through: the first byte's table, then the word's shape
/// (e-mail is left to the `@` zone, so it is not listed).
fn shape(word: &str, after: u8) -> Vec<Kind> {
    let d = all();
    let w = word.as_bytes();
    let first = d.first[usize::from(w[0])];
    let bits = shape_allows(first, w, after);
    Kind::ALL
        .into_iter()
        .filter(|&k| k != Kind::Email && bits & k.bit() != 0)
        .collect()
}

/// The shape filter both ways, at each of its bounds: a looser one costs only time
/// and a tighter one loses values, and the output tests see only the second.
#[test]
fn a_word_shape_lets_through_exactly_the_kinds_that_can_start_there() {
    use Kind::*;
    let cases: &[(&str, u8, &[Kind])] = &[
        // Digits: card groups, SSN, IPv4 octets, phone groups, IPv6 groups.
        ("1234", b' ', &[Card]),
        ("1234", b'-', &[Card]),
        ("1234", b'.', &[]),
        ("1234", b':', &[Ipv6]),
        ("12345", b':', &[]),
        ("123", b' ', &[Ssn]),
        ("234", b' ', &[Ssn, Phone]),
        ("234", b'-', &[Ssn, Phone]),
        ("234", b'.', &[Ipv4, Phone]),
        ("234", b',', &[]),
        ("2345", b'.', &[]),
        ("23", b'.', &[Ipv4]),
        ("23", b' ', &[]),
        ("0113", b' ', &[Card, Phone]),
        ("01134", b' ', &[Phone]),
        ("01134", b'.', &[Phone]),
        ("011345", b' ', &[]),
        ("01", b'.', &[Ipv4, Phone]),
        ("01", b',', &[]),
        ("0", b':', &[Ipv6]),
        ("12345678901", b' ', &[]),
        ("123456789012", b'"', &[Card]),
        ("1234567890123456789", b' ', &[Card]),
        // Letters: secrets' prefixes, IBAN's country and check digits, phone words,
        // hex groups.
        ("eyJhbGciOiJIUzI1NiJ9", b'.', &[Jwt]),
        ("eyj", b'.', &[]),
        ("ey", b'.', &[]),
        ("exJ", b'.', &[]),
        ("bearer", b' ', &[Bearer]),
        ("Bearer", b' ', &[Bearer]),
        ("beare", b' ', &[]),
        ("bearers", b' ', &[]),
        ("HCP", b' ', &[HcpAuthorization]),
        ("HCPX", b' ', &[]),
        ("HC", b' ', &[]),
        ("AKIAIOSFODNN7EXAMPLE", b' ', &[AwsAccessKey]),
        ("AKIAIOSFODNN7EXAMPL", b' ', &[]),
        ("aws_secret_access_key", b':', &[AwsSecretKey]),
        ("aws_secret_access_keys", b':', &[]),
        ("aws_secret_access_ke", b':', &[]),
        ("GB82WEST12345698765432", b' ', &[Iban]),
        ("GB8", b' ', &[]),
        ("Gb82", b' ', &[]),
        ("G882", b' ', &[]),
        ("GBX2", b' ', &[]),
        ("GB8X", b' ', &[]),
        ("DE89", b' ', &[Iban]),
        ("DE89", b':', &[Iban, Ipv6]),
        ("phone", b':', &[Phone]),
        ("Telephone", b' ', &[Phone]),
        ("cell", b' ', &[Phone]),
        ("cell", b':', &[Ipv6, Phone]),
        ("CALL", b' ', &[Phone]),
        ("cat", b' ', &[]),
        ("cafe", b':', &[Ipv6]),
        ("cafes", b':', &[]),
        ("abc", b':', &[Ipv6]),
        ("abc", b' ', &[]),
        ("facts", b' ', &[]),
        ("smsx", b' ', &[Phone]),
        ("reach", b' ', &[Phone]),
        ("rea", b' ', &[]),
        ("whatsapp", b' ', &[Phone]),
        ("mobile", b' ', &[Phone]),
        ("_x", b' ', &[]),
    ];
    for &(word, after, want) in cases {
        assert_eq!(
            shape(word, after),
            want,
            "{word:?} then {:?}",
            after as char
        );
    }
    // Kinds not asked for stay out, whatever the word.
    assert_eq!(shape_allows(0, b"1234", b' '), 0);
    assert_eq!(shape_allows(Kind::Ssn.bit(), b"1234", b' '), 0);
    assert_eq!(
        shape_allows(Kind::Phone.bit(), b"phone", b' '),
        Kind::Phone.bit()
    );
    assert_eq!(shape_allows(Kind::Email.bit(), b"", b' '), 0);
}

/// The first-byte table, written out from the patterns: which kinds may start at
/// each byte (before `\b` and the shape are checked).
#[test]
fn the_first_byte_table_holds_exactly_the_bytes_each_pattern_starts_with() {
    let word: String = ('0'..='9')
        .chain('A'..='Z')
        .chain('a'..='z')
        .chain(['_'])
        .collect();
    let starts = |k: Kind| -> String {
        match k {
            Kind::Jwt => "e".into(),
            Kind::Bearer => "bB".into(),
            Kind::HcpAuthorization => "H".into(),
            Kind::AwsAccessKey => "A".into(),
            Kind::AwsSecretKey => "aA".into(),
            Kind::Email => word.clone(),
            Kind::Iban => ('A'..='Z').collect(),
            Kind::Card | Kind::Ssn | Kind::Ipv4 => ('0'..='9').collect(),
            Kind::Ipv6 => "0123456789abcdefABCDEF:".into(),
            Kind::Phone => "+(023456789,;|\tptmcfswrPTMCFSWR".into(),
        }
    };
    let d = all();
    for b in 0..=255u8 {
        let want = Kind::ALL
            .into_iter()
            .filter(|&k| starts(k).as_bytes().contains(&b))
            .fold(0u16, |bits, k| bits | k.bit());
        assert_eq!(d.first[usize::from(b)], want, "byte {b:#04x}");
    }
    // Only the kinds asked for are in the table.
    let one = Detectors::new(&[], &[Kind::Ssn]).unwrap();
    assert_eq!(one.first[usize::from(b'1')], Kind::Ssn.bit());
    assert_eq!(one.first[usize::from(b'a')], 0);
}

#[test]
fn no_detector_at_all_is_empty_and_one_of_either_sort_is_not() {
    assert!(Detectors::new(&[], &[]).unwrap().is_empty());
    assert!(!Detectors::new(&[], &[Kind::Ssn]).unwrap().is_empty());
    assert!(!Detectors::new(&["x".to_string()], &[]).unwrap().is_empty());
}

/// A custom pattern's match is only reported once every byte it could still take
/// has arrived: one past its longest match.
#[test]
fn a_custom_match_waits_for_its_window_unless_the_text_has_ended() {
    let d = Detectors::new(&["x[0-9]{1,3}".to_string()], &[]).unwrap();
    assert_eq!(d.window(), 5);
    // "x12" might become "x123": undecided until the window has arrived.
    assert_eq!(d.next(b"abcx12", 0, false), Next::Undecided(3));
    assert_eq!(d.next(b"abcx123", 0, false), Next::Undecided(3));
    let decided = Found {
        detector: Detector::Custom(0),
        span: (3, 7),
    };
    assert_eq!(d.next(b"abcx123.", 0, false), Next::Found(decided));
    assert_eq!(
        d.next(b"abcx12", 0, true),
        Next::Found(Found {
            detector: Detector::Custom(0),
            span: (3, 6),
        })
    );
    assert_eq!(d.next(b"abc", 0, false), Next::Clear);
}

/// Of two candidates the earlier wins; at one position the operator's pattern does.
#[test]
fn the_earlier_candidate_wins_and_at_one_position_the_custom_pattern() {
    let d = Detectors::new(&["jo".to_string(), "zz".to_string()], &Kind::ALL).unwrap();
    let spans = |text: &str| -> Vec<(Detector, String)> {
        d.find_all(text.as_bytes())
            .into_iter()
            .map(|f| (f.detector, text[f.span.0..f.span.1].to_string()))
            .collect()
    };
    assert_eq!(
        spans("jo@example.com"),
        vec![(Detector::Custom(0), "jo".to_string())]
    );
    assert_eq!(
        spans("al@example.com zz"),
        vec![
            (Detector::Builtin(Kind::Email), "al@example.com".to_string()),
            (Detector::Custom(1), "zz".to_string()),
        ]
    );
    assert_eq!(
        spans("zz al@example.com"),
        vec![
            (Detector::Custom(1), "zz".to_string()),
            (Detector::Builtin(Kind::Email), "al@example.com".to_string()),
        ]
    );
}

/// Operators' patterns see bytes, not characters: a class matches any byte, valid
/// UTF-8 or not, as the built-in patterns do.
#[test]
fn custom_patterns_match_bytes_not_characters() {
    let d = Detectors::new(&["[^a]{2}".to_string()], &[]).unwrap();
    let f = d.find_all(b"\xff\xfe");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].span, (0, 2));
    // `\w` is ASCII: `é` (two bytes) is not a word character.
    let d = Detectors::new(&[r"\w\w".to_string()], &[]).unwrap();
    assert!(d.find_all("é".as_bytes()).is_empty());
}

#[test]
fn a_custom_pattern_may_match_up_to_the_limit_and_no_further() {
    assert_eq!(check_custom(&format!("a{{{CUSTOM_MAX}}}")), Ok(CUSTOM_MAX));
    assert_eq!(
        check_custom(&format!("a{{{}}}", CUSTOM_MAX + 1)),
        Err(PatternError::TooLong(CUSTOM_MAX + 1))
    );
    assert_eq!(check_custom("a+"), Err(PatternError::Unbounded));
    assert_eq!(check_custom("a?"), Err(PatternError::Empty));
    assert!(matches!(check_custom("("), Err(PatternError::Invalid(_))));
}

thread_local! {
    /// Where the scan tried which matcher, in this test's thread.
    static TRIED: std::cell::RefCell<Vec<(usize, Kind)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Called by the scan before each matcher it tries (in tests only).
pub(super) fn tried(at: usize, k: Kind) {
    TRIED.with(|t| t.borrow_mut().push((at, k)));
}

/// Where the scan of a whole text tries which matcher.
fn attempts(d: &Detectors, text: &str) -> Vec<(usize, Kind)> {
    TRIED.with(|t| t.borrow_mut().clear());
    d.find_all(text.as_bytes());
    TRIED.with(|t| t.take())
}

/// The prefilters let a matcher be tried only where its pattern can start: an address
/// only in the run before an `@`, a kind only where the word's shape fits. Looser
/// filters change no output, only the time, so this is where they are seen.
#[test]
fn matchers_are_tried_only_where_the_prefilters_let_them() {
    use Kind::*;
    let d = all();
    let cases: &[(&str, &[(usize, Kind)])] = &[
        ("hello x@y.co", &[(6, Email)]),
        ("cat 12 x@y.co", &[(7, Email)]),
        ("no address here, nor card", &[]),
        ("415-555-2671", &[(0, Ssn), (0, Phone)]),
        ("call x.y@z.co", &[(0, Phone), (5, Email)]),
        // Inside a word the first position is tried and refused by the pattern's `\b`.
        ("x@y.co", &[(0, Email)]),
        // Marks: a phone number's `(`, `+` or field separator needs a digit after it
        // (a field's after one space), an IPv6 address's `:` a second `:`.
        ("(Windows; U; NT)", &[]),
        ("(020) 7946 0958", &[(0, Phone)]),
        ("+44 20", &[(0, Phone)]),
        ("+x", &[]),
        ("a, 4155552671", &[(1, Phone)]),
        ("a;4155552671", &[(1, Phone)]),
        ("a,  4155552671", &[]),
        ("at 04:45:29", &[(3, Ipv6), (6, Ipv6)]),
        ("x :y", &[]),
        ("::1", &[(0, Ipv6)]),
    ];
    for &(text, want) in cases {
        assert_eq!(attempts(&d, text), want, "{text:?}");
    }
    // From a position inside a word, nothing matches there.
    assert_eq!(d.next(b"ab1234 5678 9012 3456", 1, true), Next::Clear);
}

/// A built-in candidate is decided once its window has arrived, and not before.
#[test]
fn a_builtin_candidate_is_decided_once_its_window_has_arrived() {
    let d = Detectors::new(&[], &[Kind::Ssn]).unwrap();
    assert_eq!(d.window(), 12);
    let ssn = Next::Found(Found {
        detector: Detector::Builtin(Kind::Ssn),
        span: (0, 11),
    });
    assert_eq!(d.next(b"123-45-6789", 0, false), Next::Undecided(0));
    assert_eq!(d.next(b"123-45-6789.", 0, false), ssn);
    assert_eq!(d.next(b"123-45-6789", 0, true), ssn);
}

#[test]
fn a_mark_lets_through_its_kinds_only_before_what_they_need() {
    let all = u16::MAX;
    for (b, next, next2, fits) in [
        (b'+', b'4', 0, true),
        (b'+', b' ', b'4', false),
        (b'(', b'0', 0, true),
        (b'(', b'W', 0, false),
        (b',', b'4', 0, true),
        (b',', b' ', b'4', true),
        (b',', b' ', b' ', false),
        (b',', b'x', b'4', false),
        (b';', b'4', 0, true),
        (b'|', b' ', b'4', true),
        (b'\t', b'4', 0, true),
        (b'\t', b'a', 0, false),
        (b':', b':', 0, true),
        (b':', b'4', 0, false),
        (b'-', b'4', 0, true),
    ] {
        let want = if fits { all } else { 0 };
        assert_eq!(mark_allows(all, b, next, next2), want, "{:?}", b as char);
    }
    assert_eq!(
        mark_allows(Kind::Phone.bit(), b'+', b'4', 0),
        Kind::Phone.bit()
    );
}
