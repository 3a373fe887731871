use std::collections::BTreeMap;

use super::*;

fn block() -> ControlBlock {
    ControlBlock {
        upstream: "tollgate_control".into(),
        authority: "tollgate-control".into(),
        project: "hcp".into(),
        group: "prod".into(),
        gateway: "kong-1".into(),
        token: "tgt_a_b".into(),
        poll_seconds: 10,
        timeout_ms: 5000,
        public_keys: BTreeMap::new(),
    }
}

fn get<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn a_first_poll_names_the_gateway_and_nothing_it_runs() {
    let h = request_headers(&block(), "rate-limit", &Report::default());
    assert_eq!(
        get(&h, ":path"),
        Some("/v1/projects/hcp/groups/prod/configs/rate-limit/resolved")
    );
    assert_eq!(get(&h, ":method"), Some("GET"));
    assert_eq!(get(&h, ":authority"), Some("tollgate-control"));
    assert_eq!(get(&h, "authorization"), Some("Bearer tgt_a_b"));
    assert_eq!(get(&h, "tollgate-gateway"), Some("kong-1"));
    for absent in [
        "if-none-match",
        "tollgate-running",
        "tollgate-refused",
        "tollgate-error",
    ] {
        assert_eq!(get(&h, absent), None, "{absent}");
    }
}

#[test]
fn later_polls_report_what_runs_and_what_was_refused() {
    let report = Report {
        etag: Some("\"abc\"".into()),
        running: Some(3),
        refused: Some((4, "revision 4: bad\nline ü".into())),
    };
    let h = request_headers(&block(), "rate-limit", &report);
    assert_eq!(get(&h, "if-none-match"), Some("\"abc\""));
    assert_eq!(get(&h, "tollgate-running"), Some("3"));
    assert_eq!(get(&h, "tollgate-refused"), Some("4"));
    assert_eq!(get(&h, "tollgate-error"), Some("revision 4: bad?line ?"));
    let long = Report {
        refused: Some((1, "x".repeat(2000))),
        ..Report::default()
    };
    let h = request_headers(&block(), "f", &long);
    assert_eq!(get(&h, "tollgate-error").map(str::len), Some(512));
}

#[test]
fn answers_are_classified() {
    let with = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(answer(Some(304), &[]), Answer::Unchanged);
    assert_eq!(
        answer(
            Some(200),
            &with(&[("ETag", "\"e\""), ("tollgate-signature", "s")])
        ),
        Answer::Document {
            etag: "\"e\"".into(),
            signature: "s".into()
        }
    );
    assert_eq!(
        answer(Some(200), &with(&[("etag", "\"e\"")])),
        Answer::Failed("the document came without its signature".into())
    );
    assert_eq!(
        answer(Some(200), &with(&[("tollgate-signature", "s")])),
        Answer::Failed("the document came without its ETag".into())
    );
    assert_eq!(
        answer(Some(401), &[]),
        Answer::Failed("the control service answered 401".into())
    );
    assert_eq!(
        answer(None, &[]),
        Answer::Failed("the control service did not answer".into())
    );
}
