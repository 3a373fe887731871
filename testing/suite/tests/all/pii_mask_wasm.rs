//! Tier 2: `dist/pii-mask.wasm` in the wasmtime host under the Envoy, Kong and APISIX
//! profiles: values straddling chunk boundaries are masked, JSON stays JSON, headers
//! describe the masked body, compressed bodies are decoded, exempt callers see data,
//! limits block or pass as configured, and APISIX (which cannot replace bodies) refuses
//! or passes as configured, never pretending.

use std::io::Write as _;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tollgate_host_suite::wasm;
use tollgate_wasm_host::{Plugin, Profile, Request, UpstreamReply};

/// A response body whose values are cut across chunks at awkward places.
const CHUNKS: [&str; 5] = [
    r#"{"users": [{"name": "Jane", "email": "jane.d"#,
    r#"oe@example.com", "card": "4111 1111 11"#,
    r#"11 1111", "password": "hunter2", "ip": "192.168."#,
    r#"10.42"}], "note": "call +1 415 5"#,
    r#"55 2671", "ok": true}"#,
];

const MASKED: &str = r#"{"users": [{"name": "Jane", "email": "[EMAIL]", "card": "**** **** **** 1111", "ip": "[IP]"}], "note": "call [PHONE]", "ok": true}"#;

fn config() -> Value {
    json!({
        "detectors": {"card": {"action": {"type": "partial"}}},
        "fields": [{"pointer": "/**/password", "rule": "drop"}],
        "exempt": {"claims": [{"claim": "roles", "value": "compliance"}]},
        "max_body_bytes": 4096
    })
}

fn plugin(profile: Profile, config: &Value) -> Result<Plugin> {
    let mut p = Plugin::builder(&wasm("pii-mask")?)
        .named("pii-mask")
        .profile(profile)
        .config(config.to_string())
        .build()?;
    p.upstream(|req| {
        let path = req.path().to_string();
        let mut reply = UpstreamReply::new(200)
            .header("content-type", "application/json")
            .header("etag", "\"v1\"");
        if path == "/big" {
            // Declared over the limit.
            let body = "x".repeat(5000);
            return reply.header("content-length", "5000").chunk(body);
        }
        if path == "/stream-big" {
            // Found over the limit while streaming: no length declared.
            return reply
                .header("transfer-encoding", "chunked")
                .chunk(format!("{{\"a\": \"{}", "y".repeat(3000)))
                .chunk(format!("{} jane@example.com\"}}", "z".repeat(3000)));
        }
        if path == "/gzip" {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = gz.write_all(CHUNKS.concat().as_bytes());
            let bytes = gz.finish().unwrap_or_default();
            let (a, b) = bytes.split_at(bytes.len() / 2);
            return reply
                .header("content-encoding", "gzip")
                .header("content-length", &bytes.len().to_string())
                .chunk(a.to_vec())
                .chunk(b.to_vec());
        }
        if path == "/zstd" {
            return reply
                .header("content-encoding", "zstd")
                .chunk(vec![0x28, 0xb5, 0x2f, 0xfd]);
        }
        if path == "/image" {
            return UpstreamReply::new(200)
                .header("content-type", "image/png")
                .chunk(b"\x89PNG jane@example.com".to_vec());
        }
        let total: usize = CHUNKS.iter().map(|c| c.len()).sum();
        reply = reply.header("content-length", &total.to_string());
        for c in CHUNKS {
            reply = reply.chunk(c);
        }
        reply
    });
    Ok(p)
}

fn claims(roles: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"sub": "u", "roles": [roles]}).to_string())
}

#[test]
fn values_split_across_chunks_are_masked_and_json_stays_json_on_envoy_and_kong() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Kong] {
        let mut p = plugin(profile, &config())?;
        let out = p.send(Request::get("/users"))?;
        assert!(!out.trapped(), "{profile:?}: {:?}", out.trap);
        assert_eq!(out.client.status, 200, "{profile:?}");
        assert_eq!(out.client.body_text(), MASKED, "{profile:?}");
        serde_json::from_slice::<Value>(&out.client.body)?;
        assert_eq!(
            out.client.header("content-length"),
            None,
            "{profile:?}: the length changed"
        );
        assert_eq!(out.client.header("etag"), Some("W/\"v1\""), "{profile:?}");
        assert_eq!(p.metric("pii_mask.matches.email"), Some(1), "{profile:?}");
        assert_eq!(p.metric("pii_mask.matches.card"), Some(1), "{profile:?}");
        assert_eq!(p.metric("pii_mask.matches.phone"), Some(1), "{profile:?}");
        assert_eq!(p.metric("pii_mask.matches.ipv4"), Some(1), "{profile:?}");
        let scanned = p.metric("pii_mask.bytes_scanned").unwrap_or(0);
        assert_eq!(scanned as usize, CHUNKS.concat().len(), "{profile:?}");

        // A compliance officer sees the origin's bytes.
        let exempt =
            p.send(Request::get("/users").header("x-tollgate-jwt-payload", &claims("compliance")))?;
        assert_eq!(exempt.client.body_text(), CHUNKS.concat(), "{profile:?}");
        let other =
            p.send(Request::get("/users").header("x-tollgate-jwt-payload", &claims("viewer")))?;
        assert_eq!(other.client.body_text(), MASKED, "{profile:?}");

        // Bodies that are not read pass untouched.
        let image = p.send(Request::get("/image"))?;
        assert_eq!(
            image.client.body, b"\x89PNG jane@example.com",
            "{profile:?}"
        );
    }
    Ok(())
}

#[test]
fn compressed_bodies_are_decoded_masked_and_sent_plain() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Kong] {
        let mut p = plugin(profile, &config())?;
        let out = p.send(Request::get("/gzip"))?;
        assert_eq!(out.client.body_text(), MASKED, "{profile:?}");
        assert_eq!(out.client.header("content-encoding"), None, "{profile:?}");
        let zstd = p.send(Request::get("/zstd"))?;
        assert_eq!(
            zstd.client.status, 502,
            "{profile:?}: an encoding it cannot read is blocked"
        );
        assert!(
            zstd.client.body_text().contains("pii_mask_blocked"),
            "{profile:?}"
        );
        assert_eq!(
            p.metric("pii_mask.blocked.encoding"),
            Some(1),
            "{profile:?}"
        );
    }
    Ok(())
}

#[test]
fn limits_block_or_pass_and_never_cut_a_body_short_silently() -> Result<()> {
    for profile in [Profile::Envoy, Profile::Kong] {
        let mut p = plugin(profile, &config())?;
        let big = p.send(Request::get("/big"))?;
        assert_eq!(
            big.client.status, 502,
            "{profile:?}: a declared length over the limit"
        );
        assert!(
            big.client
                .body_text()
                .contains("larger than the edge checks"),
            "{profile:?}"
        );
        assert!(!big.client.body_text().contains("xxxx"), "{profile:?}");

        let streamed = p.send(Request::get("/stream-big"))?;
        match profile {
            // Envoy resets the stream: the client sees an error, not a whole-looking body.
            Profile::Envoy => assert!(
                out_was_reset(&streamed),
                "{profile:?}: {:?}",
                streamed
                    .hostcalls
                    .iter()
                    .map(|h| h.name)
                    .collect::<Vec<_>>()
            ),
            // Kong cannot reset: it masks to the end instead.
            _ => {
                let text = streamed.client.body_text();
                assert!(
                    text.ends_with("[EMAIL]\"}"),
                    "{profile:?}: {}",
                    &text[text.len().saturating_sub(40)..]
                );
                assert_eq!(text.len(), 6000 + "{\"a\": \"".len() + " [EMAIL]\"}".len());
            }
        }
        assert_eq!(p.metric("pii_mask.oversize"), Some(1), "{profile:?}");

        let mut pass = config();
        pass["on_oversize"] = json!("pass");
        let mut p = plugin(profile, &pass)?;
        let big = p.send(Request::get("/big"))?;
        assert_eq!(big.client.status, 200, "{profile:?}");
        assert_eq!(big.client.body.len(), 5000);
        assert_eq!(
            p.metric("pii_mask.unmasked.oversize"),
            Some(1),
            "{profile:?}"
        );
    }
    Ok(())
}

fn out_was_reset(o: &tollgate_wasm_host::Outcome) -> bool {
    o.hostcall_count("proxy_close_stream") == 1
}

#[test]
fn apisix_cannot_replace_bodies_and_does_not_pretend() -> Result<()> {
    let mut p = plugin(Profile::Apisix, &config())?;
    assert!(
        p.logs()
            .iter()
            .any(|(_, m)| m.contains("cannot replace bodies") && m.contains("502")),
        "{:?}",
        p.logs()
    );
    let out = p.send(Request::get("/users"))?;
    assert_eq!(out.client.status, 502);
    assert!(out.upstream.is_none(), "refused before the origin");
    assert!(
        out.client
            .body_text()
            .contains("cannot check responses for personal data")
    );
    assert_eq!(p.metric("pii_mask.blocked.host"), Some(1));
    // An exempt caller is not refused: nothing needs masking for them.
    let exempt =
        p.send(Request::get("/users").header("x-tollgate-jwt-payload", &claims("compliance")))?;
    assert_eq!(exempt.client.body_text(), CHUNKS.concat());

    let mut pass = config();
    pass["on_unsupported_host"] = json!("pass");
    let mut p = plugin(Profile::Apisix, &pass)?;
    let out = p.send(Request::get("/users"))?;
    assert_eq!(out.client.status, 200);
    assert_eq!(
        out.client.body_text(),
        CHUNKS.concat(),
        "passed unmasked, as configured"
    );
    assert_eq!(p.metric("pii_mask.unmasked.host"), Some(1));
    assert_eq!(
        out.hostcall_count("proxy_set_buffer_bytes"),
        0,
        "it never tries"
    );
    Ok(())
}

#[test]
fn hostile_bodies_never_trap_and_never_leak() -> Result<()> {
    // Invalid UTF-8, unbalanced JSON, deep nesting, a value right at the end: the filter
    // masks what it can and the stream ends normally.
    let bodies: Vec<Vec<u8>> = vec![
        b"\xff\xfe jane@example.com \xc3".to_vec(),
        format!("{}jane@example.com", "[".repeat(1000)).into_bytes(),
        b"{\"a\": \"\\u12".to_vec(),
        b"}}}]]] 4111111111111111".to_vec(),
        b"jane@example.com".to_vec(),
    ];
    for profile in [Profile::Envoy, Profile::Kong] {
        for body in &bodies {
            let mut p = Plugin::builder(&wasm("pii-mask")?)
                .named("pii-mask")
                .profile(profile)
                .config("{}")
                .build()?;
            let b = body.clone();
            p.upstream(move |_| {
                let (x, y) = b.split_at(b.len() / 2);
                UpstreamReply::new(200)
                    .header("content-type", "application/json")
                    .chunk(x.to_vec())
                    .chunk(y.to_vec())
            });
            let out = p.send(Request::get("/x"))?;
            assert!(!out.trapped(), "{profile:?}: {:?}", out.trap);
            let text = out.client.body_text();
            assert!(!text.contains("jane@example.com"), "{profile:?}: {text}");
            assert!(!text.contains("4111111111111111"), "{profile:?}: {text}");
        }
    }
    Ok(())
}

#[test]
fn request_bodies_are_masked_before_the_origin_on_envoy() -> Result<()> {
    let mut c = config();
    c["requests"] = json!({"enabled": true});
    let mut p = Plugin::builder(&wasm("pii-mask")?)
        .named("pii-mask")
        .profile(Profile::Envoy)
        .config(c.to_string())
        .build()?;
    let out = p.send(
        Request::post("/echo", "")
            .header("content-type", "application/json")
            .header("content-length", "40")
            .chunk(b"{\"contact\": \"jane@exa".to_vec())
            .chunk(b"mple.com\", \"n\": 1}".to_vec()),
    )?;
    let upstream = out.upstream.expect("forwarded");
    assert_eq!(
        String::from_utf8_lossy(&upstream.body),
        r#"{"contact": "[EMAIL]", "n": 1}"#
    );
    assert_eq!(upstream.header("content-length"), None);
    Ok(())
}
