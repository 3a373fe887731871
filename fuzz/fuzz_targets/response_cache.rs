//! response-cache's attacker-facing parsing: requests (paths, `Cache-Control`,
//! conditionals, `Vary`-named headers, payload headers) and origin responses
//! (`Cache-Control`, dates, `Age`, `Vary`, `Location`) run through a whole
//! request-store-request cycle over a small store, and arbitrary bytes read as an
//! entry and as the shared tier's pages. Never a panic, and an answer from the cache
//! is only ever the entry stored for that very request's key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_kit::HostFacts;
use tollgate_kit::slots::MemorySlots;
use tollgate_response_cache::decide::{self, Origin, Plan, Request, Write};
use tollgate_response_cache::entry::Entry;
use tollgate_response_cache::store::Store;

const CONFIG: &str = r#"{"rules": [
    {"name": "a", "glob": "/a/**", "ttl_s": 60},
    {"name": "p", "glob": "/p/*", "public": true, "ttl_s": 5},
    {"name": "h", "glob": "/h/*.json"}],
  "invalidate": [{"glob": "/*/**", "prefixes": ["/{1}"]}],
  "purge": {"method": "PURGE", "claim": "roles", "value": "admin"},
  "storage": {"max_entries": 16, "invalidation_marks": 64, "max_bytes": 65536, "max_entry_bytes": 4096}}"#;

fuzz_target!(|data: &[u8]| {
    let _ = Entry::decode(data);
    let _ = tollgate_response_cache::tier::page(data);
    let Ok(c) = tollgate_response_cache::config::load(CONFIG.as_bytes(), HostFacts::default()) else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}');
    let mut next = || parts.next().unwrap_or("").to_string();
    let request: Vec<(String, String)> = vec![
        (":method".into(), next()),
        (":path".into(), next()),
        (":authority".into(), next()),
        ("cache-control".into(), next()),
        ("if-none-match".into(), next()),
        ("if-modified-since".into(), next()),
        ("accept".into(), next()),
        ("x-tollgate-jwt-payload".into(), next()),
    ];
    let response: Vec<(String, String)> = vec![
        (":status".into(), next()),
        ("cache-control".into(), next()),
        ("date".into(), next()),
        ("expires".into(), next()),
        ("age".into(), next()),
        ("vary".into(), next()),
        ("etag".into(), next()),
        ("last-modified".into(), next()),
        ("location".into(), next()),
    ];
    let body = next().into_bytes();
    let tables = [16, 16, 64, 1].map(MemorySlots::new);
    let [meta, bodies, marks, account] = &tables;
    let store = Store {
        meta,
        body: bodies,
        marks,
        account,
        entries: 16,
        mark_slots: 64,
        max_bytes: 65536,
    };
    let now = 1_700_000_000_000_000_000u64;
    let req = Request { headers: &request, credentials: None, now_ns: now, body: Some(&body) };
    let _ = decide::purge(&c, &req);
    let mut events = Vec::new();
    let status: u16 = response[0].1.parse().unwrap_or(200);
    let origin = Origin { status, headers: &response, body: &body, now_ns: now + 1 };
    let stored_key = match decide::request(&c, &store, &req, &mut events) {
        Ok(Plan::Fetch(f)) => {
            if decide::may_store(&c, &f, status, &response, now).is_ok() {
                decide::store_response(&c, &store, &f, &origin, &request, &mut events);
            }
            let _ = decide::refreshed(&c, &store, &f, &origin, &request, &mut events);
            Some(f.key)
        }
        Ok(Plan::Write { authority, path }) => {
            let w = Write { method: &request[0].1, authority: &authority, path: &path, status, headers: &response, now_ns: now };
            decide::written(&c, &store, &w, &mut events);
            None
        }
        _ => None,
    };
    // The same request again: a served answer is the entry stored for its own key.
    let again = Request { headers: &request, credentials: None, now_ns: now + 2, body: Some(&body) };
    if let (Ok(Plan::Serve(reply)), Some(key)) = (decide::request(&c, &store, &again, &mut events), stored_key) {
        if reply.status != 504 && reply.status != 304 && request[0].1 == "GET" {
            let found = store.lookup(&key).ok().flatten();
            assert!(found.is_some_and(|f| f.entry.body == reply.body), "served what is not stored for the key");
        }
    }
});
