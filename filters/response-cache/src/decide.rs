//! A request's and a response's decisions over plain data and a [`Store`]: what the
//! glue does is read headers, call these, and carry out the plan.

use tollgate_kit::pairs::first;
use tollgate_kit::route::{host_matches, path_only};

use crate::config::{Compiled, Rule};
use crate::directives::{RequestDirectives, format_date, http_date};
use crate::entry::{Entry, KeyHash, storable_headers};
use crate::freshness::{self, NotStored, Policy, Response, Use, values};
use crate::invalidate;
use crate::key::{self, Who};
use crate::store::{Found, Store};

const NANOS: u64 = 1_000_000_000;

/// How long one request may hold the right to revalidate a stale entry while others
/// are served it stale.
const LEASE_SECONDS: u64 = 30;

/// Why a request is not cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bypass {
    /// No rule fits it.
    NoRule,
    /// Its rule says never.
    RuleOff,
    /// A range request: this cache does not combine ranges.
    Range,
    /// Credentials without a verified identity.
    Unverified,
    /// A path with no normal form: left to the filters that refuse it.
    BadPath,
}

impl Bypass {
    pub fn name(self) -> &'static str {
        match self {
            Self::NoRule => "no_rule",
            Self::RuleOff => "rule_off",
            Self::Range => "range",
            Self::Unverified => "unverified",
            Self::BadPath => "bad_path",
        }
    }
}

/// What the filter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Hit,
    Stale,
    Miss,
    Bypass,
    Revalidated,
    Stored,
    NotStored(&'static str),
    Evicted,
    Invalidated,
    Purged,
    /// Served from the shared tier (and kept locally).
    TierHit,
    /// The tier failed to answer or to take something (the request went on without it).
    TierErrors,
    Errors,
}

impl Event {
    pub fn name(self) -> String {
        match self {
            Self::Hit => "hits".into(),
            Self::Stale => "stale".into(),
            Self::Miss => "misses".into(),
            Self::Bypass => "bypasses".into(),
            Self::Revalidated => "revalidated".into(),
            Self::Stored => "stores".into(),
            Self::NotStored(why) => format!("not_stored.{why}"),
            Self::Evicted => "evictions".into(),
            Self::Invalidated => "invalidations".into(),
            Self::Purged => "purges".into(),
            Self::TierHit => "tier_hits".into(),
            Self::TierErrors => "tier_errors".into(),
            Self::Errors => "errors".into(),
        }
    }
}

/// A response the filter sends itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A request that goes to the origin and may fill the cache.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub key: KeyHash,
    pub rule: usize,
    pub request_time_ns: u64,
    /// The request said `no-store`.
    pub no_store: bool,
    /// The request carried `Authorization`.
    pub credentials: bool,
    /// A HEAD: its response has no body and must not become the GET's entry.
    pub head: bool,
    /// The entry is one verified caller's own (not anonymous, not public): only then
    /// may a `private` response be kept.
    pub own: bool,
    /// The stale entry being revalidated, and the validators added to the request.
    pub revalidating: Option<Box<Found>>,
    pub conditional: Vec<(String, String)>,
    /// The `x-cache` value for the client: `MISS`.
    pub label: &'static str,
}

/// What to do with a request.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Pass it; nothing is stored.
    Bypass(Bypass),
    /// Answer it from the cache.
    Serve(Reply),
    /// Go upstream; store what comes back if it may be stored.
    Fetch(Fetch),
    /// An unsafe request: invalidate its scopes if it succeeds.
    Write { authority: String, path: String },
}

/// A request as decisions see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub headers: &'a [(String, String)],
    pub credentials: Option<&'a [u8]>,
    pub now_ns: u64,
    /// The body of a POST a body rule may fit (read only when [`needs_body`] says so).
    pub body: Option<&'a [u8]>,
}

/// Whether a request may be a POST read: its body must be read before deciding.
pub fn needs_body(c: &Compiled, h: &[(String, String)]) -> bool {
    if c.body_bytes == 0 || first(h, ":method") != "POST" {
        return false;
    }
    let Ok(path) = c.paths.prepare(first(h, ":path")) else {
        return false;
    };
    let (authority, path) = (authority(h), path_only(&path));
    c.rules
        .iter()
        .any(|r| r.body.is_some() && r.glob.matches(path) && host_matches(&r.hosts, authority))
}

/// The first body rule that fits a POST read and its body.
fn body_rule<'c>(
    c: &'c Compiled,
    authority: &str,
    path: &str,
    body: &[u8],
) -> Option<(usize, &'c Rule)> {
    let object: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(body).ok();
    c.rules.iter().enumerate().find(|(_, r)| {
        let Some(b) = &r.body else {
            return false;
        };
        let fits = match &b.json_key {
            None => true,
            Some(k) => object.as_ref().is_some_and(|o| o.contains_key(k)),
        };
        fits && body.len() as u64 <= b.max_bytes
            && r.glob.matches(path)
            && host_matches(&r.hosts, authority)
    })
}

/// The authority a request names (`:authority`, or `host` on nginx hosts).
pub fn authority(headers: &[(String, String)]) -> &str {
    let a = first(headers, ":authority");
    if a.is_empty() {
        first(headers, "host")
    } else {
        a
    }
}

fn rule_for<'c>(
    c: &'c Compiled,
    method: &str,
    authority: &str,
    path: &str,
) -> Option<(usize, &'c Rule)> {
    c.rules.iter().enumerate().find(|(_, r)| {
        r.methods.iter().any(|m| m == method)
            && r.glob.matches(path)
            && host_matches(&r.hosts, authority)
    })
}

/// The purge a request asks for, if it is one: `Ok(scope)` or `Err` when the caller
/// may not purge.
pub fn purge(c: &Compiled, req: &Request<'_>) -> Option<Result<String, ()>> {
    let p = c.purge.as_ref()?;
    if first(req.headers, ":method") != p.method {
        return None;
    }
    let claims =
        tollgate_kit::contract::claims_from(Some(first(req.headers, &c.identity.claims_header)));
    let allowed = claims.is_some_and(|m| tollgate_kit::json::claim_holds(&m, &p.claim, &p.value));
    if !allowed {
        return Some(Err(()));
    }
    let path = path_only(first(req.headers, ":path"));
    let scope = if path == "*" || path == "/*" {
        invalidate::ALL.to_string()
    } else {
        match c.paths.prepare(path) {
            Ok(p) => invalidate::uri_scope(authority(req.headers), &p),
            Err(_) => return Some(Err(())),
        }
    };
    Some(Ok(scope))
}

/// Decides a request (not a purge: see [`purge`]). `events` collects what to count.
pub fn request(
    c: &Compiled,
    store: &Store<'_>,
    req: &Request<'_>,
    events: &mut Vec<Event>,
) -> Result<Plan, String> {
    let h = req.headers;
    let method = first(h, ":method");
    let authority = authority(h).to_string();
    let Ok(full_path) = c.paths.prepare(first(h, ":path")) else {
        events.push(Event::Bypass);
        return Ok(Plan::Bypass(Bypass::BadPath));
    };
    let path = path_only(&full_path);
    // A POST a body rule fits is a read (a query): keyed by its body, invalidating
    // nothing.
    let read_by_body = match (method, req.body) {
        ("POST", Some(body)) => body_rule(c, &authority, path, body),
        _ => None,
    };
    if invalidate::is_unsafe(method) && read_by_body.is_none() {
        if needs_body(c, h) {
            // A POST to a query path whose body no rule describes: passed untouched.
            events.push(Event::Bypass);
            return Ok(Plan::Bypass(Bypass::NoRule));
        }
        return Ok(Plan::Write {
            authority,
            path: path.to_string(),
        });
    }
    let Some((index, rule)) = read_by_body.or_else(|| rule_for(c, method, &authority, path)) else {
        events.push(Event::Bypass);
        return Ok(Plan::Bypass(Bypass::NoRule));
    };
    if !rule.cache {
        events.push(Event::Bypass);
        return Ok(Plan::Bypass(Bypass::RuleOff));
    }
    if !first(h, "range").is_empty() {
        events.push(Event::Bypass);
        return Ok(Plan::Bypass(Bypass::Range));
    }
    let who = Who {
        headers: h,
        credentials: req.credentials,
    };
    let Some(identity) = key::identity(&c.identity, rule.public, &who) else {
        events.push(Event::Bypass);
        return Ok(Plan::Bypass(Bypass::Unverified));
    };
    let cc = RequestDirectives::parse(&values(h, "cache-control"), &values(h, "pragma"));
    let key = match (&rule.body, req.body) {
        (Some(_), Some(body)) => key::primary_with_body(&identity, &authority, &full_path, body),
        _ => key::primary(&identity, &authority, &full_path),
    };
    let now = req.now_ns / NANOS;
    let fetch = |revalidating: Option<Box<Found>>, conditional: Vec<(String, String)>| Fetch {
        key,
        rule: index,
        request_time_ns: req.now_ns,
        no_store: cc.no_store,
        credentials: !first(h, "authorization").is_empty(),
        head: method == "HEAD",
        own: matches!(identity, key::Identity::Caller(_)),
        revalidating,
        conditional,
        label: "MISS",
    };
    let found = store.lookup(&key).map_err(|e| e.0)?;
    let found = match found {
        Some(f) => {
            let scopes = invalidate::lookup_scopes(&authority, path, &c.prefix_depths);
            let mark = store.latest_mark(&scopes).map_err(|e| e.0)?;
            let valid = mark < f.entry.request_time_ns && key::vary_matches(&f.entry.vary, h);
            valid.then_some(f)
        }
        None => None,
    };
    let Some(found) = found else {
        return Ok(miss(cc.only_if_cached, events, fetch(None, Vec::new())));
    };
    let usable = freshness::usable(&found.entry.freshness, &cc, now);
    let serve_as = match usable {
        Use::Fresh => Some("HIT"),
        Use::Stale => Some("STALE"),
        Use::StaleWhileRevalidate => {
            if store
                .take_lease(&found, now, LEASE_SECONDS)
                .map_err(|e| e.0)?
            {
                None
            } else {
                Some("STALE")
            }
        }
        Use::Revalidate => None,
    };
    if let Some(label) = serve_as {
        events.push(if label == "HIT" {
            Event::Hit
        } else {
            Event::Stale
        });
        // A lost race on the last-use time changes nothing that matters.
        let _ = store.touch(&found, now);
        return Ok(Plan::Serve(answer(&found.entry, h, now, label)));
    }
    let client_conditional =
        !first(h, "if-none-match").is_empty() || !first(h, "if-modified-since").is_empty();
    let validators = validators(&found.entry);
    if c.replies_after_upstream && !client_conditional && !validators.is_empty() {
        events.push(Event::Miss);
        return Ok(Plan::Fetch(fetch(Some(Box::new(found)), validators)));
    }
    Ok(miss(cc.only_if_cached, events, fetch(None, Vec::new())))
}

fn miss(only_if_cached: bool, events: &mut Vec<Event>, fetch: Fetch) -> Plan {
    events.push(Event::Miss);
    if only_if_cached {
        // §5.2.1.7: nothing stored can answer, and the client forbids asking.
        return Plan::Serve(Reply {
            status: 504,
            headers: vec![
                ("cache-control".into(), "no-store".into()),
                ("x-cache".into(), "MISS".into()),
            ],
            body: Vec::new(),
        });
    }
    Plan::Fetch(fetch)
}

/// The validators to revalidate `entry` with (§4.3.1).
fn validators(entry: &Entry) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(etag) = entry.header("etag") {
        out.push(("if-none-match".to_string(), etag.to_string()));
    }
    if let Some(lm) = entry.header("last-modified") {
        out.push(("if-modified-since".to_string(), lm.to_string()));
    }
    out
}

/// Weak comparison of entity tags (RFC 9110 §8.8.3.2).
fn weak_eq(a: &str, b: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    strip(a) == strip(b)
}

/// Whether a client's conditional request is answered 304 by `entry` (RFC 9110
/// §13.1.2, §13.1.3, §13.2.2; RFC 9111 §4.3.2).
fn not_modified(entry: &Entry, h: &[(String, String)]) -> bool {
    let inm = values(h, "if-none-match");
    if !inm.is_empty() {
        let Some(etag) = entry.header("etag") else {
            return false;
        };
        return inm
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == "*" || weak_eq(t, etag));
    }
    let Some(since) = freshness::first(h, "if-modified-since").and_then(http_date) else {
        return false;
    };
    let modified = entry
        .header("last-modified")
        .or_else(|| entry.header("date"))
        .and_then(http_date)
        .unwrap_or(entry.freshness.response_time);
    modified <= since
}

/// Stored headers a 304 does not replace: they describe the stored content itself.
const KEPT_ON_304: [&str; 5] = [
    "content-encoding",
    "content-length",
    "content-md5",
    "content-range",
    "etag",
];

/// Headers a 304 carries (RFC 9110 §15.4.5).
const NOT_MODIFIED_HEADERS: [&str; 6] = [
    "cache-control",
    "content-location",
    "date",
    "etag",
    "expires",
    "vary",
];

/// The reply for a request served from `entry` at `now`.
pub fn answer(entry: &Entry, request: &[(String, String)], now: u64, label: &str) -> Reply {
    let age = entry.freshness.age(now).to_string();
    let conditional = not_modified(entry, request);
    let mut headers: Vec<(String, String)> = entry
        .headers
        .iter()
        .filter(|(k, _)| !conditional || NOT_MODIFIED_HEADERS.contains(&k.as_str()))
        .cloned()
        .collect();
    headers.push(("age".into(), age));
    headers.push(("x-cache".into(), label.into()));
    let head = first(request, ":method") == "HEAD";
    Reply {
        status: if conditional { 304 } else { entry.status },
        headers,
        body: if conditional || head {
            Vec::new()
        } else {
            entry.body.clone()
        },
    }
}

/// A response from the origin, whole.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub status: u16,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub now_ns: u64,
}

/// What to do once the origin answered a [`Fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Let the origin's response through.
    Pass,
    /// Replace it with this (a 304 to our revalidation, or an error the stale entry
    /// stands in for).
    Replace(Reply),
}

/// Whether an origin error is answered from the revalidated entry instead
/// (`stale-if-error`), decided at the response's headers.
pub fn stands_in_for_error(
    fetch: &Fetch,
    status: u16,
    now_ns: u64,
    request: &[(String, String)],
) -> Option<Reply> {
    let found = fetch.revalidating.as_ref()?;
    let now = now_ns / NANOS;
    freshness::serves_on_error(&found.entry.freshness, status, now)
        .then(|| answer(&found.entry, request, now, "STALE"))
}

/// A 304 answering our revalidation: the stored entry, refreshed with the 304's
/// headers (RFC 9111 §3.2, §4.3.4), stored again and served.
pub fn refreshed(
    c: &Compiled,
    store: &Store<'_>,
    fetch: &Fetch,
    origin: &Origin<'_>,
    request: &[(String, String)],
    events: &mut Vec<Event>,
) -> Option<Reply> {
    let found = fetch.revalidating.as_ref()?;
    let old = &found.entry;
    let now = origin.now_ns / NANOS;
    // §3.2: the stored response's own framing and identity stay (a 304 that names
    // another ETag or encoding does not change the stored bytes).
    let mut fresh_headers: Vec<(String, String)> = storable_headers(origin.headers)
        .into_iter()
        .filter(|(k, _)| !KEPT_ON_304.contains(&k.as_str()))
        .collect();
    if first(&fresh_headers, "date").is_empty() {
        fresh_headers.push(("date".into(), format_date(now)));
    }
    let mut headers: Vec<(String, String)> = old
        .headers
        .iter()
        .filter(|(k, _)| !fresh_headers.iter().any(|(n, _)| n == k))
        .cloned()
        .collect();
    headers.extend(fresh_headers);
    let stored = Entry {
        headers,
        request_time_ns: fetch.request_time_ns,
        ..old.clone()
    };
    let rule = c.rules.get(fetch.rule)?;
    let response = Response {
        status: old.status,
        headers: &stored.headers,
        request_time: fetch.request_time_ns / NANOS,
        response_time: now,
    };
    events.push(Event::Revalidated);
    let served = match freshness::storable(&response, &policy(c, rule, fetch)) {
        Ok(f) => {
            let entry = Entry {
                freshness: f,
                ..stored
            };
            put(store, &entry, now, events);
            entry
        }
        Err(why) => {
            events.push(Event::NotStored(why.name()));
            let _ = store.remove(&fetch.key);
            stored
        }
    };
    Some(answer(&served, request, now, "HIT"))
}

fn policy(c: &Compiled, rule: &Rule, fetch: &Fetch) -> Policy {
    Policy {
        ttl: rule.ttl_s,
        heuristic_percent: c.heuristic.percent,
        heuristic_max: c.heuristic.max_s,
        public: rule.public,
        credentials: fetch.credentials,
        own: fetch.own,
    }
}

/// Stores `entry`; whether it went in.
fn put(store: &Store<'_>, entry: &Entry, now: u64, events: &mut Vec<Event>) -> bool {
    match store.put(entry, now) {
        Ok(s) => {
            if s.stored {
                events.push(Event::Stored);
            } else {
                events.push(Event::NotStored("contended"));
            }
            for _ in 0..s.evicted {
                events.push(Event::Evicted);
            }
            s.stored
        }
        Err(_) => {
            events.push(Event::Errors);
            false
        }
    }
}

/// Whether a response to `fetch` may be stored, before its body arrives: a `Err`
/// means the body need not be collected.
pub fn may_store(
    c: &Compiled,
    fetch: &Fetch,
    status: u16,
    headers: &[(String, String)],
    now_ns: u64,
) -> Result<(), NotStored> {
    if fetch.no_store {
        return Err(NotStored::NoStore);
    }
    if fetch.head {
        return Err(NotStored::Head);
    }
    let declared = first(headers, "content-length").parse::<u64>().ok();
    if declared.is_some_and(|n| n > c.storage.max_entry_bytes) {
        return Err(NotStored::TooLarge);
    }
    let rule = c.rules.get(fetch.rule).ok_or(NotStored::Status)?;
    let response = Response {
        status,
        headers,
        request_time: fetch.request_time_ns / NANOS,
        response_time: now_ns / NANOS,
    };
    freshness::storable(&response, &policy(c, rule, fetch)).map(|_| ())
}

/// Stores the origin's whole response to `fetch` if it may be; returns what was
/// stored (for the shared tier).
pub fn store_response(
    c: &Compiled,
    store: &Store<'_>,
    fetch: &Fetch,
    origin: &Origin<'_>,
    request: &[(String, String)],
    events: &mut Vec<Event>,
) -> Option<Entry> {
    if origin.body.len() as u64 > c.storage.max_entry_bytes {
        events.push(Event::NotStored(NotStored::TooLarge.name()));
        return None;
    }
    let rule = c.rules.get(fetch.rule)?;
    if c.newline_appended && !survives_newline(origin.headers, origin.body) {
        events.push(Event::NotStored(NotStored::HostAltersBody.name()));
        return None;
    }
    let now = origin.now_ns / NANOS;
    let mut headers = storable_headers(origin.headers);
    if first(&headers, "date").is_empty() {
        // §6.6.1 of RFC 9110: a recipient with a clock adds the date it received it.
        headers.push(("date".into(), format_date(now)));
    }
    let response = Response {
        status: origin.status,
        headers: origin.headers,
        request_time: fetch.request_time_ns / NANOS,
        response_time: now,
    };
    match freshness::storable(&response, &policy(c, rule, fetch)) {
        Ok(f) => {
            let entry = Entry {
                key: fetch.key,
                request_time_ns: fetch.request_time_ns,
                freshness: f,
                status: origin.status,
                vary: key::vary_of(origin.headers, request),
                headers,
                body: origin.body.to_vec(),
            };
            put(store, &entry, now, events).then_some(entry)
        }
        Err(why) => {
            events.push(Event::NotStored(why.name()));
            None
        }
    }
}

/// An unsafe request's outcome.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    pub method: &'a str,
    pub authority: &'a str,
    /// Without the query, in normal form.
    pub path: &'a str,
    pub status: u16,
    pub headers: &'a [(String, String)],
    pub now_ns: u64,
}

/// An entry the shared tier answered a [`Fetch`] with: served (and kept locally) if
/// it is the request's, sealed by a gateway of the tier, not invalidated since it was
/// filled, matches `Vary` and is fresh; `None`: go to the origin.
pub fn from_tier(
    c: &Compiled,
    store: &Store<'_>,
    fetch: &Fetch,
    sealed: &[u8],
    request: &[(String, String)],
    now_ns: u64,
    events: &mut Vec<Event>,
) -> Option<Reply> {
    let tier = c.tier.as_ref()?;
    let Some(entry) = crate::tier::open(tier, sealed).and_then(Entry::decode) else {
        events.push(Event::TierErrors);
        return None;
    };
    if entry.key != fetch.key || !key::vary_matches(&entry.vary, request) {
        return None;
    }
    let (authority, full_path) = target(c, request)?;
    let scopes = invalidate::lookup_scopes(&authority, path_only(&full_path), &c.prefix_depths);
    let mark = store.latest_mark(&scopes).ok()?;
    let now = now_ns / NANOS;
    let cc = RequestDirectives::parse(
        &values(request, "cache-control"),
        &values(request, "pragma"),
    );
    if mark >= entry.request_time_ns || freshness::usable(&entry.freshness, &cc, now) != Use::Fresh
    {
        return None;
    }
    put(store, &entry, now, events);
    events.push(Event::TierHit);
    Some(answer(&entry, request, now, "HIT"))
}

/// The request's authority and path (normal form, query kept).
fn target(c: &Compiled, h: &[(String, String)]) -> Option<(String, String)> {
    let path = c.paths.prepare(first(h, ":path")).ok()?;
    Some((authority(h).to_string(), path.into_owned()))
}

/// Whether a body can be answered with by a host that appends a line feed: empty,
/// ending with one (sent without it), or text, where one more is insignificant.
fn survives_newline(headers: &[(String, String)], body: &[u8]) -> bool {
    let kind = first(headers, "content-type").to_ascii_lowercase();
    body.is_empty()
        || body.ends_with(b"\n")
        || kind.starts_with("text/")
        || kind.contains("json")
        || kind.contains("xml")
        || kind.contains("javascript")
}

/// The body to hand a host that appends a line feed to it (Kong): one less, if the
/// stored body ends with one, so the client gets exactly the stored bytes.
pub fn body_for_host<'b>(c: &Compiled, body: &'b [u8]) -> &'b [u8] {
    match body.strip_suffix(b"\n") {
        Some(shorter) if c.newline_appended => shorter,
        _ => body,
    }
}

/// After an unsafe request: the scopes its success invalidates, marked at its time.
pub fn written(
    c: &Compiled,
    store: &Store<'_>,
    write: &Write<'_>,
    events: &mut Vec<Event>,
) -> Vec<String> {
    if !invalidate::succeeded(write.status) {
        return Vec::new();
    }
    let scopes =
        invalidate::write_scopes(c, write.method, write.authority, write.path, write.headers);
    mark(store, &scopes, write.now_ns, events);
    scopes
}

/// Marks `scopes` invalidated at `now_ns`.
pub fn mark(store: &Store<'_>, scopes: &[String], now_ns: u64, events: &mut Vec<Event>) {
    for scope in scopes {
        match store.mark(scope, now_ns) {
            Ok(()) => events.push(Event::Invalidated),
            Err(_) => events.push(Event::Errors),
        }
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
