use super::*;

#[test]
fn the_view_reads_pseudo_headers_and_first_values() {
    let headers: Pairs = vec![
        (":method".into(), "PUT".into()),
        (":path".into(), "/a?b".into()),
        ("x".into(), "1".into()),
        ("x".into(), "2".into()),
    ];
    let view = RequestView::of(&headers);
    assert_eq!((view.method, view.path), ("PUT", "/a?b"));
    assert_eq!(view.header("x"), Some("1"));
    assert_eq!(view.header("y"), None);
    assert!(view.has("x") && !view.has("X"));
    let empty: Pairs = Vec::new();
    assert_eq!(RequestView::of(&empty).method, "");
}
