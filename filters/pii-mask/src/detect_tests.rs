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
