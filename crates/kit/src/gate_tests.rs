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

#[test]
fn asking_for_the_body_sets_apisix_opt_in_and_never_fails() {
    let host = crate::mock::MockHost::new();
    want_request_body(&host);
    assert_eq!(
        host.state
            .borrow()
            .properties
            .get(&vec!["wasm_process_req_body".to_string()]),
        Some(&b"true".to_vec())
    );
    // A host that refuses the property (Kong outside `wasmx.`) is no error.
    let refusing =
        crate::mock::MockHost::new().failing("proxy_set_property", crate::types::Status::NotFound);
    want_request_body(&refusing);
}

#[test]
fn body_callbacks_are_asked_for_by_property() {
    let host = crate::mock::MockHost::new();
    want_request_body(&host);
    want_response_body(&host);
    let props = &host.state.borrow().properties;
    assert_eq!(props[&vec!["wasm_process_req_body".to_string()]], b"true");
    assert_eq!(props[&vec!["wasm_process_resp_body".to_string()]], b"true");
}
