use super::*;

#[test]
fn response_directives() {
    let d = ResponseDirectives::parse(&["Max-Age=60, no-cache=\"set-cookie, x\"", "PRIVATE"]);
    assert_eq!(d.max_age, Delta::Seconds(60));
    assert!(d.no_cache && d.private && !d.public && !d.no_store);
    let d = ResponseDirectives::parse(&[
        "public, s-maxage=\"10\", must-revalidate, proxy-revalidate, stale-while-revalidate=5, stale-if-error=7, no-store, x-ext=\"a,b\"",
    ]);
    assert!(d.public && d.must_revalidate && d.proxy_revalidate && d.no_store);
    assert_eq!(d.s_maxage, Delta::Seconds(10));
    assert_eq!(d.stale_while_revalidate, Some(5));
    assert_eq!(d.stale_if_error, Some(7));
    assert!(d.forbids_stale());
    assert!(!ResponseDirectives::parse(&["max-age=1"]).forbids_stale());
}

#[test]
fn bad_and_conflicting_deltas_make_it_stale() {
    assert_eq!(
        ResponseDirectives::parse(&["max-age=x"]).max_age,
        Delta::Invalid
    );
    assert_eq!(
        ResponseDirectives::parse(&["max-age"]).max_age,
        Delta::Invalid
    );
    assert_eq!(
        ResponseDirectives::parse(&["max-age=-1"]).max_age,
        Delta::Invalid
    );
    assert_eq!(
        ResponseDirectives::parse(&["max-age=1", "max-age=2"]).max_age,
        Delta::Invalid
    );
    assert_eq!(
        ResponseDirectives::parse(&["max-age=1, max-age=1"]).max_age,
        Delta::Seconds(1)
    );
    assert_eq!(Delta::Invalid.lifetime(), Some(0));
    assert_eq!(Delta::Absent.lifetime(), None);
    assert_eq!(delta_seconds("99999999999999999999999"), Some(DELTA_MAX));
    assert_eq!(delta_seconds("2147483649"), Some(DELTA_MAX));
    assert_eq!(delta_seconds(""), None);
    assert_eq!(delta_seconds("1.5"), None);
}

#[test]
fn request_directives() {
    let d = RequestDirectives::parse(&["max-age=5, min-fresh=3, max-stale, only-if-cached"], &[]);
    assert_eq!(d.max_age, Some(5));
    assert_eq!(d.min_fresh, Some(3));
    assert_eq!(d.max_stale, Some(None));
    assert!(d.only_if_cached && !d.no_cache && !d.no_store);
    let d = RequestDirectives::parse(&["max-stale=9", "no-store, no-cache"], &[]);
    assert_eq!(d.max_stale, Some(Some(9)));
    assert!(d.no_store && d.no_cache);
    assert_eq!(
        RequestDirectives::parse(&["max-stale=x"], &[]).max_stale,
        None
    );
    assert_eq!(RequestDirectives::parse(&["max-age=x"], &[]).max_age, None);
    assert!(RequestDirectives::parse(&[], &["no-cache"]).no_cache);
    assert!(!RequestDirectives::parse(&["max-age=1"], &["no-cache"]).no_cache);
}

#[test]
fn quoted_commas_do_not_split() {
    let d = ResponseDirectives::parse(&[r#"x="a,\"b,c", max-age=3"#]);
    assert_eq!(d.max_age, Delta::Seconds(3));
}

#[test]
fn dates_in_all_three_forms() {
    let t = 784_111_777;
    assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
    assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(t));
    assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(t));
    assert_eq!(http_date("0"), None);
    assert_eq!(format_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
}
