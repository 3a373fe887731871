use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::*;
use crate::mock::MockHost;

/// What the fake filter saw.
#[derive(Default)]
struct Seen {
    configs: Vec<Vec<u8>>,
    ticks: usize,
    streams: usize,
    /// Every other callback, by name.
    calls: Vec<&'static str>,
}

/// A filter that keeps its configs, refuses `"bad"`, and asks for a 5 s tick.
struct Fake(Rc<RefCell<Seen>>);

impl Callouts for Fake {
    fn on_http_call_response(&mut self, _: &dyn Host, _: u32, _: usize, _: usize, _: usize) {
        self.0.borrow_mut().calls.push("http");
    }
    fn on_grpc_initial_metadata(&mut self, _: &dyn Host, _: u32, _: usize) {
        self.0.borrow_mut().calls.push("grpc_initial");
    }
    fn on_grpc_message(&mut self, _: &dyn Host, _: u32, _: usize) {
        self.0.borrow_mut().calls.push("grpc_message");
    }
    fn on_grpc_trailing_metadata(&mut self, _: &dyn Host, _: u32, _: usize) {
        self.0.borrow_mut().calls.push("grpc_trailing");
    }
    fn on_grpc_close(&mut self, _: &dyn Host, _: u32, _: u32) {
        self.0.borrow_mut().calls.push("grpc_close");
    }
}

struct Passing;
impl Callouts for Passing {}
impl StreamFilter for Passing {}

impl RootFilter for Fake {
    fn on_configure(&mut self, host: &dyn Host, config: &[u8]) -> Result<(), String> {
        if config == b"\"bad\"" {
            return Err("bad config".into());
        }
        self.0.borrow_mut().configs.push(config.to_vec());
        let _ = host.set_tick_period(Duration::from_secs(5));
        Ok(())
    }
    fn new_stream(&mut self, _: &dyn Host, _: u32) -> Option<Box<dyn StreamFilter>> {
        self.0.borrow_mut().streams += 1;
        Some(Box::new(Passing))
    }
    fn on_tick(&mut self, host: &dyn Host) {
        self.0.borrow_mut().ticks += 1;
        // After its first tick it wants 2 s.
        let _ = host.set_tick_period(Duration::from_secs(2));
    }
    fn on_vm_start(&mut self, _: &dyn Host, config: &[u8]) -> bool {
        self.0.borrow_mut().calls.push("vm_start");
        config != b"refuse"
    }
    fn on_queue_ready(&mut self, _: &dyn Host, _: u32) {
        self.0.borrow_mut().calls.push("queue");
    }
    fn on_foreign_function(&mut self, _: &dyn Host, _: u32, _: usize) {
        self.0.borrow_mut().calls.push("foreign");
    }
    fn on_done(&mut self, _: &dyn Host) -> bool {
        self.0.borrow_mut().calls.push("done");
        false
    }
    fn on_log(&mut self, _: &dyn Host) {
        self.0.borrow_mut().calls.push("log");
    }
}

fn fake() -> (Pulled<Fake>, Rc<RefCell<Seen>>) {
    let seen = Rc::new(RefCell::new(Seen::default()));
    (Pulled::new("rate-limit", Fake(Rc::clone(&seen))), seen)
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn control() -> Value {
    let pem = key()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    json!({"upstream": "tollgate_control", "project": "hcp", "group": "prod",
           "gateway": "kong-1", "token": "tgt_a_b", "poll_seconds": 10,
           "public_keys": {"k1": pem}})
}

fn signed(body: &[u8], revision: u64) -> String {
    let sha: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "kid": "k1"}).to_string());
    let c = URL_SAFE_NO_PAD.encode(
        json!({"sha256": sha, "project": "hcp", "group": "prod", "filter": "rate-limit",
               "revision": revision})
        .to_string(),
    );
    let sig = key().sign(format!("{h}.{c}").as_bytes());
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn at(host: &MockHost, seconds: u64) {
    host.state.borrow_mut().now = Some(UNIX_EPOCH + Duration::from_secs(seconds));
}

/// Answers the last callout with `status`, `headers` and `body`.
fn answer_with(
    root: &mut Pulled<Fake>,
    host: &MockHost,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let token = host.state.borrow().http_calls.last().unwrap().token;
    let mut pairs = vec![(":status".to_string(), status.to_string())];
    pairs.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    {
        let mut s = host.state.borrow_mut();
        s.maps.insert(MapKind::HttpCallResponseHeaders, pairs);
        s.buffers
            .insert(BufferKind::HttpCallResponseBody, body.to_vec());
    }
    root.on_http_call_response(host, token, headers.len() + 1, body.len(), 0);
}

fn deliver(root: &mut Pulled<Fake>, host: &MockHost, body: &[u8], revision: u64, etag: &str) {
    let sig = signed(body, revision);
    let rev = revision.to_string();
    answer_with(
        root,
        host,
        "200",
        &[
            ("etag", etag),
            ("tollgate-signature", &sig),
            ("tollgate-revision", &rev),
        ],
        body,
    );
}

fn last_call_header(host: &MockHost, name: &str) -> Option<String> {
    let s = host.state.borrow();
    let call = s.http_calls.last()?;
    call.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn without_a_control_block_everything_passes_through() {
    let host = MockHost::new();
    let (mut root, seen) = fake();
    root.on_configure(&host, b"{\"rules\":[]}").unwrap();
    assert_eq!(seen.borrow().configs, [b"{\"rules\":[]}".to_vec()]);
    assert_eq!(
        host.state.borrow().tick_period,
        Some(Duration::from_secs(5))
    );
    root.on_tick(&host);
    assert_eq!(
        host.state.borrow().tick_period,
        Some(Duration::from_secs(2)),
        "its new period"
    );
    root.on_tick(&host);
    assert_eq!(seen.borrow().ticks, 2, "every tick is the filter's");
    assert!(root.new_stream(&host, 2).is_some());
    assert!(host.state.borrow().http_calls.is_empty());
    assert!(root.on_configure(&host, b"\"bad\"").is_err());
}

#[test]
fn a_pulling_filter_refuses_requests_until_its_first_config_then_loads_a_signed_one() {
    let host = MockHost::new();
    at(&host, 1_000);
    let (mut root, seen) = fake();
    root.on_configure(&host, json!({"control": control()}).to_string().as_bytes())
        .unwrap();
    assert!(seen.borrow().configs.is_empty());
    assert_eq!(
        host.state.borrow().tick_period,
        Some(Duration::from_secs(1))
    );
    let mut stream = root.new_stream(&host, 2).unwrap();
    stream.on_request_headers(&host, 0, true);
    assert_eq!(
        host.state.borrow().local_reply.as_ref().unwrap().status,
        503
    );
    assert_eq!(seen.borrow().streams, 0);

    root.on_tick(&host);
    {
        let s = host.state.borrow();
        let call = s.http_calls.last().unwrap();
        assert_eq!(call.upstream, "tollgate_control");
        assert_eq!(call.timeout, Duration::from_millis(5000));
    }
    assert_eq!(
        last_call_header(&host, ":path").as_deref(),
        Some("/v1/projects/hcp/groups/prod/configs/rate-limit/resolved")
    );
    assert_eq!(
        last_call_header(&host, "tollgate-gateway").as_deref(),
        Some("kong-1")
    );
    assert_eq!(last_call_header(&host, "tollgate-running"), None);
    // One callout in flight at most, and one per period.
    at(&host, 1_001);
    root.on_tick(&host);
    assert_eq!(host.state.borrow().http_calls.len(), 1);

    deliver(&mut root, &host, b"{\"v\":1}", 1, "\"e1\"");
    assert_eq!(seen.borrow().configs, [b"{\"v\":1}".to_vec()]);
    assert!(root.new_stream(&host, 3).is_some());
    assert_eq!(seen.borrow().streams, 1);

    at(&host, 1_011);
    root.on_tick(&host);
    assert_eq!(host.state.borrow().http_calls.len(), 2);
    assert_eq!(
        last_call_header(&host, "if-none-match").as_deref(),
        Some("\"e1\"")
    );
    assert_eq!(
        last_call_header(&host, "tollgate-running").as_deref(),
        Some("1")
    );
    answer_with(&mut root, &host, "304", &[], b"");
    assert_eq!(seen.borrow().configs.len(), 1, "304: nothing reloads");
}

#[test]
fn a_tampered_or_refused_document_keeps_the_last_good_one_and_is_reported() {
    let host = MockHost::new();
    at(&host, 1_000);
    let (mut root, seen) = fake();
    let seed = json!({"control": control(), "seed": true});
    root.on_configure(&host, seed.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        seen.borrow().configs,
        [b"{\"seed\":true}".to_vec()],
        "the seed runs first"
    );
    root.on_tick(&host);
    // Signed for one body, carrying another.
    let sig = signed(b"{\"v\":2}", 2);
    answer_with(
        &mut root,
        &host,
        "200",
        &[
            ("etag", "\"e2\""),
            ("tollgate-signature", &sig),
            ("tollgate-revision", "2"),
        ],
        b"{\"v\":666}",
    );
    assert_eq!(seen.borrow().configs.len(), 1, "nothing tampered is loaded");
    at(&host, 1_010);
    root.on_tick(&host);
    assert_eq!(
        last_call_header(&host, "tollgate-refused").as_deref(),
        Some("2")
    );
    assert_eq!(
        last_call_header(&host, "tollgate-error").as_deref(),
        Some("the document does not match its signature")
    );
    // Signed, but the filter refuses it.
    deliver(&mut root, &host, b"\"bad\"", 3, "\"e3\"");
    assert_eq!(seen.borrow().configs.len(), 1);
    at(&host, 1_020);
    root.on_tick(&host);
    assert_eq!(
        last_call_header(&host, "tollgate-refused").as_deref(),
        Some("3")
    );
    assert_eq!(
        last_call_header(&host, "tollgate-error").as_deref(),
        Some("revision 3: bad config")
    );
    // Unsigned, and the control service failing: no change, no report of a refusal.
    answer_with(&mut root, &host, "200", &[("etag", "\"e4\"")], b"{}");
    answer_with(&mut root, &host, "503", &[], b"");
    assert_eq!(seen.borrow().configs.len(), 1);
}

#[test]
fn one_worker_polls_and_the_others_load_what_it_published() {
    let host = MockHost::new();
    at(&host, 1_000);
    let (mut a, seen_a) = fake();
    let (mut b, seen_b) = fake();
    let config = json!({"control": control()}).to_string();
    a.on_configure(&host, config.as_bytes()).unwrap();
    b.on_configure(&host, config.as_bytes()).unwrap();
    a.on_tick(&host);
    b.on_tick(&host);
    assert_eq!(
        host.state.borrow().http_calls.len(),
        1,
        "the lease holder polls alone"
    );
    deliver(&mut a, &host, b"{\"v\":1}", 1, "\"e1\"");
    at(&host, 1_001);
    b.on_tick(&host);
    assert_eq!(seen_b.borrow().configs, [b"{\"v\":1}".to_vec()]);
    assert_eq!(seen_a.borrow().configs, [b"{\"v\":1}".to_vec()]);
    // A worker configured later starts from the published document at once.
    let (mut c, seen_c) = fake();
    c.on_configure(&host, config.as_bytes()).unwrap();
    assert_eq!(seen_c.borrow().configs, [b"{\"v\":1}".to_vec()]);
    assert!(c.new_stream(&host, 5).is_some());
    assert_eq!(seen_c.borrow().streams, 1);
}

#[test]
fn the_filter_ticks_at_its_own_period_while_pulling() {
    let host = MockHost::new();
    let (mut root, seen) = fake();
    let seed = json!({"control": control(), "seed": true});
    at(&host, 1_000);
    root.on_configure(&host, seed.to_string().as_bytes())
        .unwrap();
    assert_eq!(
        host.state.borrow().tick_period,
        Some(Duration::from_secs(1)),
        "the shorter period"
    );
    for s in 1_000..1_011 {
        at(&host, s);
        root.on_tick(&host);
    }
    // At 1000 (5 s asked at configure), then every 2 s, as it asked on its first tick.
    assert_eq!(
        seen.borrow().ticks,
        6,
        "at 1000, 1002, 1004, 1006, 1008 and 1010"
    );
}

#[test]
fn a_bad_control_block_or_no_shared_data_fails_configure() {
    let (mut root, _) = fake();
    let mut c = control();
    c["poll_seconds"] = json!(0);
    let e = root
        .on_configure(
            &MockHost::new(),
            json!({"control": c}).to_string().as_bytes(),
        )
        .unwrap_err();
    assert!(e.starts_with("control.poll_seconds"), "{e}");
    let e = root
        .on_configure(
            &MockHost::apisix(),
            json!({"control": control()}).to_string().as_bytes(),
        )
        .unwrap_err();
    assert!(e.contains("pulling needs shared data"), "{e}");
}

#[test]
fn every_other_callback_reaches_the_filter() {
    let host = MockHost::new();
    let (mut root, seen) = fake();
    assert!(root.on_vm_start(&host, b""));
    assert!(!root.on_vm_start(&host, b"refuse"));
    root.on_configure(&host, b"{}").unwrap();
    root.on_http_call_response(&host, 77, 0, 0, 0);
    root.on_grpc_initial_metadata(&host, 1, 0);
    root.on_grpc_message(&host, 1, 0);
    root.on_grpc_trailing_metadata(&host, 1, 0);
    root.on_grpc_close(&host, 1, 0);
    root.on_queue_ready(&host, 1);
    root.on_foreign_function(&host, 1, 0);
    assert!(!root.on_done(&host));
    root.on_log(&host);
    assert_eq!(
        seen.borrow().calls,
        [
            "vm_start",
            "vm_start",
            "http",
            "grpc_initial",
            "grpc_message",
            "grpc_trailing",
            "grpc_close",
            "queue",
            "foreign",
            "done",
            "log"
        ]
    );
}

#[test]
fn a_poll_in_flight_holds_the_next_one_even_when_due() {
    let host = MockHost::new();
    at(&host, 1_000);
    let (mut root, _) = fake();
    root.on_configure(&host, json!({"control": control()}).to_string().as_bytes())
        .unwrap();
    root.on_tick(&host);
    at(&host, 1_100);
    root.on_tick(&host);
    assert_eq!(
        host.state.borrow().http_calls.len(),
        1,
        "the first never answered"
    );
    answer_with(&mut root, &host, "304", &[], b"");
    root.on_tick(&host);
    assert_eq!(host.state.borrow().http_calls.len(), 2);
}

#[test]
fn documents_up_to_four_mebibytes_are_taken_and_larger_ones_refused() {
    let host = MockHost::new();
    at(&host, 1_000);
    let (mut root, seen) = fake();
    root.on_configure(&host, json!({"control": control()}).to_string().as_bytes())
        .unwrap();
    root.on_tick(&host);
    let big = vec![b' '; 4 * 1024 * 1024];
    deliver(&mut root, &host, &big, 1, "\"e1\"");
    assert_eq!(seen.borrow().configs.len(), 1, "exactly the limit is taken");
    at(&host, 1_010);
    root.on_tick(&host);
    let bigger = vec![b' '; 4 * 1024 * 1024 + 1];
    deliver(&mut root, &host, &bigger, 2, "\"e2\"");
    assert_eq!(seen.borrow().configs.len(), 1);
    at(&host, 1_020);
    root.on_tick(&host);
    assert_eq!(
        last_call_header(&host, "tollgate-error").as_deref(),
        Some("the document is larger than 4194304 bytes")
    );
}
