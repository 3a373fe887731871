//! Tier 3 on the nginx hosts: `dist/jwt-auth.wasm` and `dist/hcp-auth.wasm` in the real
//! Kong (ngx_wasm_module) and APISIX (wasm-nginx-module) hosts from `../shared/hosts`,
//! on loopback. What matters is what the upstream sees: no token, no spoofed owned
//! header and no password ever reaches it, on either host, and no worker dies.

use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tollgate_envoy_harness::{HttpRequest, HttpResponse, Upstream};
use tollgate_host_suite::tokens::{self, encrypt_dir, es256};
use tollgate_host_suite::wasm_path;
use tollgate_nginx_harness::{Nginx, NginxConfig, NginxFilter, NginxHost};

const JWE_KEY: [u8; 32] = [7; 32];

fn claims(extra: Value) -> Value {
    let mut c = json!({"iss": "https://idp.test", "aud": "api", "sub": "alice",
                       "exp": tokens::now() + 3600, "iat": tokens::now()});
    c.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    c
}

/// jwt-auth with inline keys: bearer tokens (plain or `dir` JWE) for `/`, a cookie
/// token for `/web`, nothing for `/health`.
fn jwt_config(keys: Value) -> Value {
    jwt_config_from(keys, &json!([{"cookie": "session"}]))
}

/// The same, `/web` taking its token from `web_from`.
fn jwt_config_from(keys: Value, web_from: &Value) -> Value {
    json!({
        "providers": {
            "idp": {
                "issuer": "https://idp.test", "audiences": ["api"], "keys": keys,
                "claim_headers": [{"claim": "sub", "header": "x-user"}],
                "decryption": {"dir": {"key": URL_SAFE_NO_PAD.encode(JWE_KEY)}}
            },
            "web": {
                "issuer": "https://idp.test", "audiences": ["api"],
                "keys": {"jwks": tokens::es_jwks().unwrap()},
                "from": web_from,
                "payload_header": "x-web-payload"
            }
        },
        "rules": [{"match": {"prefix": "/health"}},
                  {"match": {"prefix": "/web"}, "requires": {"provider": "web"}},
                  {"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    })
}

fn jwt_filter(config: &Value) -> Result<NginxFilter> {
    Ok(NginxFilter::new(
        "jwt_auth",
        &wasm_path("jwt-auth")?,
        &config.to_string(),
    ))
}

/// The host with two workers (each its own VM; Kong's share `shm_kv`).
fn start(host: NginxHost, app: &Upstream, filters: Vec<NginxFilter>) -> Result<Nginx> {
    let mut config = NginxConfig::new(host, app.addr()).workers(2);
    for f in filters {
        config = config.filter(f);
    }
    Nginx::start(&config)
}

fn bearer(path: &str, token: &str) -> HttpRequest {
    HttpRequest::get(path).header("authorization", &format!("Bearer {token}"))
}

fn code(r: &HttpResponse) -> String {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_default()
}

/// The headers of the last request the upstream received, lower-cased names.
fn last_seen(app: &Upstream) -> Vec<(String, String)> {
    app.seen()
        .last()
        .map(|s| {
            s.headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// No copy of `name` with a non-empty value (Kong can only empty a header in place).
fn carries_nothing(headers: &[(String, String)], name: &str) -> bool {
    values(headers, name).iter().all(|v| v.is_empty())
}

#[test]
fn jwt_auth_flows_on_kong_and_apisix() -> Result<()> {
    let token = es256(&claims(json!({})))?;
    let forged = {
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(claims(json!({"sub": "mallory"})).to_string());
        parts.join(".")
    };
    let expired = es256(&claims(json!({"exp": tokens::now() - 600})))?;
    let sealed = encrypt_dir(&token, &JWE_KEY, [3; 12])?;
    for host in NginxHost::ALL {
        let app = Upstream::start()?;
        let keys = json!({"jwks": tokens::es_jwks()?});
        // Kong cannot take a token out of the query (a rewritten path never reaches the
        // upstream there): such a config is refused, see below.
        let web_from = match host {
            NginxHost::Kong => json!([{"cookie": "session"}]),
            NginxHost::Apisix => json!([{"cookie": "session"}, {"query": "access_token"}]),
        };
        let nginx = start(
            host,
            &app,
            vec![jwt_filter(&jwt_config_from(keys, &web_from))?],
        )?;
        let name = host.name();

        // Decisions are made on the path in normal form: no escape to the public rule.
        let escape = nginx.send(&HttpRequest::get("/health/../api"))?;
        assert_eq!(
            (escape.status, code(&escape).as_str()),
            (401, "token_missing"),
            "{name}"
        );

        let none = nginx.send(&HttpRequest::get("/api"))?;
        assert_eq!(
            (none.status, code(&none).as_str()),
            (401, "token_missing"),
            "{name}"
        );
        assert!(none.header("www-authenticate").is_some(), "{name}");

        let ok = nginx.send(&bearer("/api", &token))?;
        assert_eq!(ok.status, 200, "{name}: {}", ok.body_text());
        let seen = last_seen(&app);
        assert_eq!(values(&seen, "x-user"), ["alice"], "{name}: {seen:?}");
        assert!(
            carries_nothing(&seen, "authorization"),
            "{name}: the token went upstream: {seen:?}"
        );
        assert_eq!(values(&seen, "x-tollgate-jwt-payload").len(), 1, "{name}");

        for (what, bad, expected) in [
            ("forged", &forged, "signature_invalid"),
            ("expired", &expired, "token_expired"),
        ] {
            let r = nginx.send(&bearer("/api", bad))?;
            assert_eq!(
                (r.status, code(&r).as_str()),
                (401, expected),
                "{name}: {what}"
            );
        }

        let jwe = nginx.send(&bearer("/api", &sealed))?;
        assert_eq!(jwe.status, 200, "{name}: JWE: {}", jwe.body_text());
        assert!(carries_nothing(&last_seen(&app), "authorization"), "{name}");

        let web = nginx.send(
            &HttpRequest::get("/web/page")
                .header("cookie", &format!("theme=dark; session={token}")),
        )?;
        assert_eq!(web.status, 200, "{name}: cookie: {}", web.body_text());
        let seen = last_seen(&app);
        let cookies = values(&seen, "cookie").join("; ");
        assert!(
            !cookies.contains(&token) && cookies.contains("theme=dark"),
            "{name}: {cookies}"
        );

        // A path put in normal form goes upstream in that form, escapes intact, on
        // APISIX; Kong sends the request line as received.
        let odd = nginx.send(&bearer("/api//a%20b/./c", &token))?;
        assert_eq!(odd.status, 200, "{name}: {}", odd.body_text());
        let path = app
            .seen()
            .last()
            .map(|s| s.path.clone())
            .unwrap_or_default();
        let expected = match host {
            NginxHost::Apisix => "/api/a%20b/c",
            NginxHost::Kong => "/api//a%20b/./c",
        };
        assert_eq!(path, expected, "{name}");

        // A token in the query is taken out of the path the upstream sees (APISIX).
        if host == NginxHost::Apisix {
            let query = nginx.send(&HttpRequest::get(&format!(
                "/web/page?a=1&access_token={token}&b=2"
            )))?;
            assert_eq!(query.status, 200, "{name}: query: {}", query.body_text());
            let path = app
                .seen()
                .last()
                .map(|s| s.path.clone())
                .unwrap_or_default();
            assert_eq!(path, "/web/page?a=1&b=2", "{name}");
        }

        // A client's own copy of an owned header never reaches the upstream: APISIX
        // removes it; Kong cannot, so the request is refused before it is forwarded.
        let before = app.seen().len();
        for req in [
            bearer("/api", &token).header("x-user", "mallory"),
            HttpRequest::get("/health").header("X-Tollgate-Jwt-Payload", "eyJzdWIiOiJyb290In0"),
        ] {
            let r = nginx.send(&req)?;
            match host {
                NginxHost::Kong => {
                    assert_eq!(
                        (r.status, code(&r).as_str()),
                        (400, "header_not_removable"),
                        "{name}"
                    );
                }
                NginxHost::Apisix => {
                    assert_eq!(r.status, 200, "{name}: {}", r.body_text());
                    let seen = last_seen(&app);
                    assert!(
                        !values(&seen, "x-user").contains(&"mallory"),
                        "{name}: {seen:?}"
                    );
                    assert!(
                        values(&seen, "x-tollgate-jwt-payload")
                            .iter()
                            .all(|v| !v.contains("eyJzdWIiOiJyb290In0")),
                        "{name}"
                    );
                }
            }
        }
        let forwarded = app.seen().len() - before;
        assert_eq!(
            forwarded,
            if host == NginxHost::Kong { 0 } else { 2 },
            "{name}"
        );
        nginx.assert_healthy()?;
    }
    Ok(())
}

/// Sends `n` requests at once; each answer's status and error code.
fn concurrently(nginx: &Nginx, n: usize, req: &HttpRequest) -> Vec<(u16, String)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| scope.spawn(|| nginx.send(req).map(|r| (r.status, code(&r)))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_or((0, "no answer".into())))
            .collect()
    })
}

fn remote_config(idp: &Upstream) -> Value {
    jwt_config(
        json!({"remote": {"upstream": idp.addr().to_string(), "path": "/jwks",
                                  "cache_seconds": 600, "timeout_ms": 800}}),
    )
}

#[test]
fn remote_jwks_on_kong_and_apisix_without_a_worker_dying() -> Result<()> {
    let token = es256(&claims(json!({})))?;
    for host in NginxHost::ALL {
        let name = host.name();
        // A slow issuer: the first requests wait for the keys, then pass.
        let app = Upstream::start()?;
        let idp = Upstream::start()?;
        idp.route_after(
            "/jwks",
            200,
            tokens::es_jwks()?.to_string(),
            Duration::from_millis(300),
        );
        let nginx = start(host, &app, vec![jwt_filter(&remote_config(&idp))?])?;
        let answers = concurrently(&nginx, 6, &bearer("/api", &token));
        assert!(
            answers.iter().all(|(s, _)| *s == 200),
            "{name}: {answers:?}\n{}",
            nginx.log_tail()
        );
        assert!(idp.hits("/jwks") >= 1, "{name}");
        nginx.assert_healthy()?;
        drop(nginx);

        // The issuer is down from the start: every waiting request is refused, from
        // its own context (Kong's worker used to die here).
        let idp = Upstream::start()?;
        idp.route("/jwks", 503, "down");
        let nginx = start(host, &app, vec![jwt_filter(&remote_config(&idp))?])?;
        let answers = concurrently(&nginx, 6, &bearer("/api", &token));
        assert!(
            answers.iter().all(|(s, c)| *s == 401 && c == "no_keys"),
            "{name}: {answers:?}\n{}",
            nginx.log_tail()
        );
        // Keys arrive; then a token with an unknown kid while the issuer is down again.
        idp.route("/jwks", 200, tokens::hs_jwks().to_string());
        std::thread::sleep(Duration::from_millis(1_200));
        let known = nginx.send(&bearer("/api", &tokens::hs256(&claims(json!({})))?))?;
        assert_eq!(
            known.status,
            200,
            "{name}: {}\n{}",
            known.body_text(),
            nginx.log_tail()
        );
        idp.route("/jwks", 503, "down");
        let answers = concurrently(&nginx, 4, &bearer("/api", &token));
        // On APISIX each worker has its own keys: one that never got them says so.
        let refused = |c: &str| c == "kid_unknown" || (host == NginxHost::Apisix && c == "no_keys");
        assert!(
            answers.iter().all(|(s, c)| *s == 401 && refused(c)),
            "{name}: {answers:?}"
        );
        assert_eq!(nginx.worker_crashes(), 0, "{name}:\n{}", nginx.log_tail());
        nginx.assert_healthy()?;
    }
    Ok(())
}

fn hcp_filter() -> Result<NginxFilter> {
    let config = json!({
        "hcp_domain": "hcp.example.com",
        "trusted_payload_header": "x-tollgate-jwt-payload",
        "routes": [{"match": {"prefix": "/mapi/"}, "mode": "management"},
                   {"match": {"prefix": "/"}, "mode": "passthrough"}]
    });
    Ok(NginxFilter::new(
        "hcp_auth",
        &wasm_path("hcp-auth")?,
        &config.to_string(),
    ))
}

#[test]
fn hcp_auth_after_jwt_auth_on_kong_and_apisix() -> Result<()> {
    let password = "s3cret-pw";
    let token = es256(&claims(
        json!({"username": "alice", "password": password, "tenant": "Acme"}),
    ))?;
    let sealed = encrypt_dir(&token, &JWE_KEY, [5; 12])?;
    let keys = json!({"jwks": tokens::es_jwks()?});
    for host in NginxHost::ALL {
        let name = host.name();
        let app = Upstream::start()?;
        let nginx = start(
            host,
            &app,
            vec![jwt_filter(&jwt_config(keys.clone()))?, hcp_filter()?],
        )?;
        let r = nginx.send(&bearer("/mapi/tenants", &sealed).header("host", "edge.example"))?;
        assert_eq!(
            r.status,
            200,
            "{name}: {}\n{}",
            r.body_text(),
            nginx.log_tail()
        );
        let seen = last_seen(&app);
        let expected = tollgate_hcp_auth::mgmt::authorization("alice", password);
        assert_eq!(
            values(&seen, "authorization"),
            [expected.as_str()],
            "{name}: {seen:?}"
        );
        assert_eq!(
            values(&seen, "host"),
            ["acme.hcp.example.com"],
            "{name}: tenant routing"
        );
        let everything = format!("{seen:?}");
        assert!(
            !everything.contains(password),
            "{name}: the password went upstream"
        );
        assert!(
            !everything.contains(&sealed) && !everything.contains(&token),
            "{name}"
        );
        assert!(
            carries_nothing(&seen, "x-tollgate-jwt-payload"),
            "{name}: {seen:?}"
        );

        // Without a token the management API is never reached.
        let before = app.seen().len();
        let none = nginx.send(&HttpRequest::get("/mapi/tenants"))?;
        assert_eq!(none.status, 401, "{name}");
        assert_eq!(app.seen().len(), before, "{name}");
        nginx.assert_healthy()?;
    }
    Ok(())
}

#[test]
fn on_apisix_without_the_declared_variable_hcp_auth_fails_closed() -> Result<()> {
    let token = es256(&claims(
        json!({"username": "alice", "password": "pw", "tenant": "acme"}),
    ))?;
    let app = Upstream::start()?;
    let keys = json!({"jwks": tokens::es_jwks()?});
    let config = NginxConfig::new(NginxHost::Apisix, app.addr())
        .variables(&["wasm_process_req_body", "wasm_process_resp_body"])
        .filter(jwt_filter(&jwt_config(keys))?)
        .filter(hcp_filter()?);
    let nginx = Nginx::start(&config)?;
    let r = nginx.send(&bearer("/mapi/tenants", &token))?;
    assert_eq!((r.status, code(&r).as_str()), (401, "credentials_missing"));
    assert!(app.seen().is_empty());
    let log = nginx.error_log();
    assert!(
        log.contains("cannot pass credentials to hcp-auth")
            && log.contains("set $tollgate_credentials ''"),
        "{}",
        nginx.log_tail()
    );
    nginx.assert_healthy()
}

#[test]
fn on_apisix_a_cluster_name_as_jwks_upstream_is_refused_at_configure_time() -> Result<()> {
    let app = Upstream::start()?;
    let config = jwt_config(json!({"remote": {"upstream": "idp", "path": "/jwks"}}));
    let nginx = Nginx::start(
        &NginxConfig::new(NginxHost::Apisix, app.addr()).filter(jwt_filter(&config)?),
    )?;
    // APISIX answers 503 for a plugin whose configuration failed, as it does for any.
    let r = nginx.send(&bearer("/api", &es256(&claims(json!({})))?))?;
    assert_eq!(r.status, 503);
    assert!(app.seen().is_empty());
    let log = nginx.error_log();
    assert!(
        log.contains("providers.idp.keys.remote.upstream") && log.contains("host:port"),
        "{}",
        nginx.log_tail()
    );
    Ok(())
}

#[test]
fn on_kong_a_token_in_the_query_is_refused_at_configure_time() -> Result<()> {
    let app = Upstream::start()?;
    let keys = json!({"jwks": tokens::es_jwks()?});
    let config = jwt_config_from(
        keys,
        &json!([{"cookie": "session"}, {"query": "access_token"}]),
    );
    let started =
        Nginx::start(&NginxConfig::new(NginxHost::Kong, app.addr()).filter(jwt_filter(&config)?));
    let err = started.err().map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(err.contains("providers.web.from[1]"), "{err}");
    assert!(app.seen().is_empty());
    Ok(())
}
