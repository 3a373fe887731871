use super::*;
use crate::config::load;
use tollgate_kit::HostFacts;

fn masker() -> Masker {
    load(b"{}", HostFacts::default()).unwrap().masker
}

#[test]
fn only_the_window_is_held_back() {
    let m = masker();
    let mut s = Segment::default();
    let mut out = Vec::new();
    let mut t = Tally::default();
    // A long line without a candidate: all but the window goes out.
    let text = "word ".repeat(10_000);
    s.push(&m, text.as_bytes(), &mut out, &mut t);
    assert!(s.held() <= m.detectors.window(), "{} held", s.held());
    assert_eq!(out.len() + s.held(), text.len());
    s.end(&m, &mut out, &mut t);
    assert_eq!(out, text.as_bytes());
    assert_eq!(s.held(), 0);
}

#[test]
fn a_value_split_in_two_is_masked_once_decided() {
    let m = masker();
    let mut s = Segment::default();
    let mut out = Vec::new();
    let mut t = Tally::default();
    s.push(&m, b"mail jane@exam", &mut out, &mut t);
    assert!(
        !String::from_utf8_lossy(&out).contains("jane"),
        "nothing of a possible value leaves"
    );
    s.push(&m, b"ple.com now", &mut out, &mut t);
    s.end(&m, &mut out, &mut t);
    assert_eq!(out, b"mail [EMAIL] now");
    assert_eq!(t.total(), 1);
}

#[test]
fn lines_end_segments_and_the_phone_hint_only_starts_one() {
    let m = masker();
    let mut text = TextStream::default();
    let mut out = Vec::new();
    let mut t = Tally::default();
    text.push(&m, b"a@b.co\nx@y.co", &mut out, &mut t);
    assert_eq!(out, b"[EMAIL]\n", "the first line is decided at its end");
    text.finish(&m, &mut out, &mut t);
    assert_eq!(out, b"[EMAIL]\n[EMAIL]");
    let mut out = Vec::new();
    m.mask_all(b"4155552671", true, &mut out, &mut t);
    assert_eq!(out, b"[PHONE]");
    let mut out = Vec::new();
    m.mask_all(b"4155552671", false, &mut out, &mut t);
    assert_eq!(out, b"4155552671");
}

#[test]
fn a_text_stream_reports_what_it_holds_and_the_tally_counts_every_match() {
    let m = masker();
    let mut s = TextStream::default();
    let mut out = Vec::new();
    let mut t = Tally::default();
    // The second address may go on: it is held until more arrives or the body ends.
    s.push(&m, b"a@example.com and b@example.com", &mut out, &mut t);
    assert!(s.held() > 0);
    s.finish(&m, &mut out, &mut t);
    assert_eq!(s.held(), 0);
    assert_eq!(out, b"[EMAIL] and [EMAIL]");
    assert_eq!(t.total(), 2);
}

/// A segment about phones (a JSON member named `phone`) masks its bare digits however
/// the value is cut, and a hint given once text has arrived changes nothing.
#[test]
fn the_phone_hint_holds_across_pushes_and_only_at_the_start() {
    let m = masker();
    let text = b"4155552671";
    let mut whole = Vec::new();
    m.mask_all(text, true, &mut whole, &mut Tally::default());
    assert_eq!(whole, b"[PHONE]");
    for k in 0..=text.len() {
        let (a, b) = text.split_at(k);
        let mut s = Segment::default();
        let mut out = Vec::new();
        let mut t = Tally::default();
        s.hint(true);
        s.push(&m, a, &mut out, &mut t);
        s.push(&m, b, &mut out, &mut t);
        s.end(&m, &mut out, &mut t);
        assert_eq!(out, whole, "cut at {k}");
    }
    for (hint_first, late_hint) in [(false, false), (false, true)] {
        let mut s = Segment::default();
        let mut out = Vec::new();
        let mut t = Tally::default();
        s.hint(hint_first);
        s.push(&m, b"x ", &mut out, &mut t);
        s.hint(late_hint);
        s.push(&m, text, &mut out, &mut t);
        s.end(&m, &mut out, &mut t);
        assert_eq!(out, b"x 4155552671");
    }
}

/// A long segment drained many times, cut at every alignment against its values:
/// each value is masked once, as masking it whole does (the bytes kept as context are
/// never looked at again as a start).
#[test]
fn a_long_segment_masks_each_value_once_however_it_is_cut() {
    let m = masker();
    let mut text = b"4155552671 ".to_vec();
    for i in 0..2500 {
        text.extend_from_slice(format!("10.0.{}.{} ", i % 10, i % 7).as_bytes());
    }
    for hint in [false, true] {
        let mut whole = Vec::new();
        let mut t = Tally::default();
        m.mask_all(&text, hint, &mut whole, &mut t);
        for chunk in [997, 1000, 4099] {
            let mut s = Segment::default();
            let mut out = Vec::new();
            let mut tc = Tally::default();
            s.hint(hint);
            for piece in text.chunks(chunk) {
                s.push(&m, piece, &mut out, &mut tc);
            }
            s.end(&m, &mut out, &mut tc);
            assert!(out == whole, "hint {hint}, chunks of {chunk}");
            assert_eq!(tc, t);
        }
    }
}

#[test]
fn the_tally_counts_each_detector_and_their_sum() {
    let m = masker();
    let (mut out, mut t) = (Vec::new(), Tally::default());
    m.mask_all(b"a@b.co, c@d.co and 10.0.0.1", false, &mut out, &mut t);
    assert_eq!(out, b"[EMAIL], [EMAIL] and [IP]");
    let email = detector_key(Detector::Builtin(Kind::Email));
    let ipv4 = detector_key(Detector::Builtin(Kind::Ipv4));
    let by_kind: Vec<(DetectorKey, u64)> = t.matches().iter().map(|(&k, &n)| (k, n)).collect();
    let mut expected = vec![(email, 2), (ipv4, 1)];
    expected.sort();
    assert_eq!(by_kind, expected);
    assert_eq!(t.total(), 3);
}
