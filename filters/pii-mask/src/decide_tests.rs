use super::*;
use crate::config::load;
use tollgate_kit::{HostFacts, HostKind};

fn compiled(json: &str, host: HostKind) -> Compiled {
    load(json.as_bytes(), HostFacts::of(host)).unwrap()
}

fn req<'a>(path: &'a str, claims: Option<&'a str>) -> Request<'a> {
    Request {
        method: "GET",
        path,
        claims,
        content_type: None,
        content_encoding: None,
    }
}

fn resp<'a>(ct: Option<&'a str>, enc: Option<&'a str>, len: Option<&'a str>) -> Response<'a> {
    Response {
        status: 200,
        head: false,
        no_body: false,
        content_type: ct,
        content_encoding: enc,
        content_length: len,
        etag: Some("\"a\""),
    }
}

#[test]
fn content_types_choose_json_text_or_nothing() {
    let c = compiled("{}", HostKind::Envoy);
    assert_eq!(
        format_of(&c, Some("application/json; charset=utf-8")),
        Some(Format::Json)
    );
    assert_eq!(
        format_of(&c, Some("application/problem+json")),
        Some(Format::Json)
    );
    assert_eq!(format_of(&c, Some("TEXT/HTML")), Some(Format::Text));
    assert_eq!(format_of(&c, Some("application/xml")), Some(Format::Text));
    assert_eq!(format_of(&c, Some("image/png")), None);
    assert_eq!(format_of(&c, None), Some(Format::Text));
}

#[test]
fn routes_claims_and_hosts_decide_the_request() {
    let cfg = r#"{"routes": [{"prefix": "/api/"}], "exempt": {"routes": [{"prefix": "/api/internal/"}],
                  "claims": [{"claim": "roles", "value": "compliance"}]}}"#;
    let c = compiled(cfg, HostKind::Envoy);
    assert_eq!(
        request(&c, &req("/other", None)),
        RequestPlan::Pass(Unmasked::Route)
    );
    assert_eq!(
        request(&c, &req("/api/internal/x", None)),
        RequestPlan::Pass(Unmasked::Route)
    );
    let officer = "eyJyb2xlcyI6WyJjb21wbGlhbmNlIl19"; // {"roles":["compliance"]}
    assert_eq!(
        request(&c, &req("/api/x", Some(officer))),
        RequestPlan::Pass(Unmasked::Claim)
    );
    assert!(matches!(
        request(&c, &req("/api/x", None)),
        RequestPlan::Watch { body: None, .. }
    ));
    let apisix = compiled(cfg, HostKind::Apisix);
    assert_eq!(
        request(&apisix, &req("/api/x", None)),
        RequestPlan::Refuse(Blocked::Host)
    );
    assert_eq!(
        request(&apisix, &req("/api/x", Some(officer))),
        RequestPlan::Pass(Unmasked::Claim)
    );
    let pass = compiled(r#"{"on_unsupported_host": "pass"}"#, HostKind::Apisix);
    assert_eq!(
        request(&pass, &req("/x", None)),
        RequestPlan::Pass(Unmasked::Host)
    );
    assert!(Unmasked::Host.is_loss() && !Unmasked::Claim.is_loss());
}

#[test]
fn responses_are_masked_blocked_or_passed() {
    let c = compiled(r#"{"max_body_bytes": 2048}"#, HostKind::Envoy);
    match response(
        &c,
        &resp(Some("application/json"), Some("gzip"), Some("100")),
    ) {
        ResponsePlan::Mask {
            format,
            encoding,
            edits,
        } => {
            assert_eq!(format, Format::Json);
            assert_eq!(encoding, Some(Encoding::Gzip));
            assert!(edits.contains(&Edit::Remove("content-length")));
            assert!(edits.contains(&Edit::Remove("content-encoding")));
            assert!(edits.contains(&Edit::Set("etag", "W/\"a\"".into())));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        response(&c, &resp(Some("text/plain"), None, Some("4096"))),
        ResponsePlan::Block(Blocked::Oversize, _)
    ));
    assert!(matches!(
        response(&c, &resp(Some("text/plain"), Some("zstd"), None)),
        ResponsePlan::Block(Blocked::Encoding, _)
    ));
    assert_eq!(
        response(&c, &resp(Some("image/png"), None, None)),
        ResponsePlan::Pass(Unmasked::ContentType)
    );
    let mut no_body = resp(Some("text/plain"), None, None);
    no_body.status = 304;
    assert_eq!(response(&c, &no_body), ResponsePlan::Pass(Unmasked::NoBody));
    let pass = compiled(
        r#"{"max_body_bytes": 2048, "on_oversize": "pass", "on_unknown_encoding": "pass"}"#,
        HostKind::Envoy,
    );
    assert_eq!(
        response(&pass, &resp(Some("text/plain"), None, Some("4096"))),
        ResponsePlan::Pass(Unmasked::Oversize)
    );
    assert_eq!(
        response(&pass, &resp(Some("text/plain"), Some("zstd"), None)),
        ResponsePlan::Pass(Unmasked::Encoding)
    );
    assert!(block_body(Blocked::Host).contains("pii_mask_blocked"));
}

/// The names that become metrics (`pii_mask.unmasked.<name>`, `pii_mask.blocked.<name>`)
/// are fixed, and each block says its own reason in the 502's body.
#[test]
fn reasons_have_fixed_names_and_their_own_messages() {
    let unmasked = [
        (Unmasked::Route, "route"),
        (Unmasked::Claim, "claim"),
        (Unmasked::ContentType, "content_type"),
        (Unmasked::NoBody, "no_body"),
        (Unmasked::Encoding, "encoding"),
        (Unmasked::Oversize, "oversize"),
        (Unmasked::Host, "host"),
    ];
    for (u, name) in unmasked {
        assert_eq!(u.name(), name);
    }
    let blocked = [
        (Blocked::Encoding, "encoding", "encoding"),
        (Blocked::Oversize, "oversize", "larger"),
        (Blocked::Host, "host", "gateway cannot"),
        (Blocked::Unreadable, "unreadable", "could not be read"),
    ];
    for (b, name, says) in blocked {
        assert_eq!(b.name(), name);
        assert!(b.message().contains(says), "{b:?}: {}", b.message());
        let body: serde_json::Value = serde_json::from_str(&block_body(b)).unwrap();
        assert!(body.to_string().contains(b.message()), "{body}");
    }
}

/// A request body is masked only when it is not encoded (`identity` is not an
/// encoding); `accept-encoding` is stripped only when configured so.
#[test]
fn request_bodies_and_accept_encoding_follow_the_config() {
    let on = compiled(r#"{"requests": {"enabled": true}}"#, HostKind::Envoy);
    let with = |enc: Option<&'static str>| {
        let mut r = req("/a", None);
        r.content_type = Some("application/json");
        r.content_encoding = enc;
        request(&on, &r)
    };
    let watch = |strip, body| RequestPlan::Watch {
        strip_accept_encoding: strip,
        body,
    };
    assert_eq!(with(None), watch(false, Some(Format::Json)));
    assert_eq!(with(Some("identity")), watch(false, Some(Format::Json)));
    assert_eq!(with(Some("gzip")), watch(false, None));
    let strip = compiled(
        r#"{"compression": "strip_accept_encoding"}"#,
        HostKind::Envoy,
    );
    assert_eq!(request(&strip, &req("/a", None)), watch(true, None));
}

/// A HEAD response has no body to mask; a blocked one becomes a 502 with no trace of
/// the origin's representation; a declared length exactly at the limit is masked.
#[test]
fn head_blocks_and_the_declared_length_limit() {
    let c = compiled(r#"{"max_body_bytes": 2048}"#, HostKind::Envoy);
    let mut head = resp(Some("application/json"), None, None);
    head.head = true;
    assert_eq!(response(&c, &head), ResponsePlan::Pass(Unmasked::NoBody));
    let at = resp(Some("application/json"), None, Some("2048"));
    assert!(matches!(response(&c, &at), ResponsePlan::Mask { .. }));
    let over = resp(Some("application/json"), None, Some("2049"));
    let ResponsePlan::Block(Blocked::Oversize, edits) = response(&c, &over) else {
        panic!("over the limit is blocked");
    };
    assert!(edits.contains(&Edit::Set(":status", "502".into())));
    assert!(edits.contains(&Edit::Remove("content-length")));
    assert!(edits.contains(&Edit::Set("cache-control", "no-store".into())));
}
