use super::*;

#[test]
fn only_a_passed_request_lets_body_and_trailers_go() {
    assert_eq!(Verdict::default(), Verdict::Pending);
    assert_eq!(Verdict::Pending.request_body(), BodyAction::StopAndBuffer);
    assert_eq!(Verdict::Denied.request_body(), BodyAction::StopNoBuffer);
    assert_eq!(Verdict::Passed.request_body(), BodyAction::Continue);
    assert_eq!(
        Verdict::Pending.request_trailers(),
        TrailersAction::StopIteration
    );
    assert_eq!(
        Verdict::Denied.request_trailers(),
        TrailersAction::StopIteration
    );
    assert_eq!(Verdict::Passed.request_trailers(), TrailersAction::Continue);
}
