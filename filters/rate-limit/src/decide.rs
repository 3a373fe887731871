//! A request's rate-limit decision: plain data in, plain data out, over any slot store,
//! so it is tested natively. The glue (`filter.rs`) only reads the request and applies
//! the result.

use serde_json::{Map, Value};
use tollgate_kit::path;
use tollgate_kit::route::path_only;

use crate::config::{ClaimCondition, Compiled, FailureMode, Limit, Mode, Rule};
use crate::gcra::{Gcra, Outcome};
use crate::key::{self, Inputs};
use crate::rls::{Ask, Reply};
use crate::table::{self, Slots, TableError};
use tollgate_kit::route::host_matches;

/// The request as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Every request header as read in one call, pseudo-headers included.
    pub headers: &'a [(String, String)],
    /// The connection's peer address, port included or not.
    pub peer: Option<&'a str>,
    /// Nanoseconds since the Unix epoch.
    pub now: u64,
}

/// What happened to one rule, for metrics (`rate_limit.<rule>.<event>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Allowed,
    Denied,
    ShadowDenied,
    /// A key part was missing and the rule skips such requests.
    Skipped,
    Exempt,
    /// A live bucket of another key was dropped to make room.
    Evicted,
    /// The table was full and its rule refused a new key.
    Full,
    /// The table failed or stayed contended, or the service failed.
    Error,
    /// A global rule refused by this proxy's own bucket, without asking the service.
    PreChecked,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::ShadowDenied => "shadow_denied",
            Self::Skipped => "skipped",
            Self::Exempt => "exempt",
            Self::Evicted => "evicted",
            Self::Full => "full",
            Self::Error => "errors",
            Self::PreChecked => "pre_checked",
        }
    }
}

/// The limit a response reports: its policy and the bucket's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub policy: String,
    pub gcra: Gcra,
    pub remaining: u64,
    /// Nanoseconds until the bucket is full again (admitted) or until a retry fits
    /// (refused).
    pub reset: u64,
}

/// How the request ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It goes on; the tightest limit that counted it, for the response's headers.
    Pass(Option<Report>),
    /// Over a limit: refuse with these facts.
    Limited { rule: String, report: Report },
    /// No decision could be made and the failure mode is closed.
    Unavailable,
    /// The path has no normal form: rules cannot be matched safely.
    BadPath(path::PathProblem),
}

/// A decision and its story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// Per rule (by index): what happened.
    pub events: Vec<(usize, Event)>,
    /// Writes lost to other workers on the way.
    pub conflicts: u32,
    /// Why the table failed, for the log (no request data in it).
    pub error: Option<String>,
    /// Buckets the rate-limit service must decide (global rules that passed their
    /// pre-check), in rule order.
    pub asks: Vec<GlobalAsk>,
}

/// A global rule's bucket, to ask the service about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalAsk {
    pub rule: usize,
    pub ask: Ask,
    /// The limits that apply (for response headers).
    pub limits: Vec<Limit>,
}

fn holds(claims: Option<&Map<String, Value>>, c: &ClaimCondition) -> bool {
    claims.is_some_and(|m| tollgate_kit::json::claim_holds(m, &c.claim, &c.value))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The limits that apply to this caller: the first matching override's, or the rule's;
/// a worker's share of them where workers share nothing.
fn limits_for<'r>(
    rule: &'r Rule,
    claims: Option<&Map<String, Value>>,
    mode: Mode,
) -> (Vec<Gcra>, &'r [Limit], Option<usize>) {
    let chosen = rule.overrides.iter().position(|o| holds(claims, &o.when));
    let limits = chosen
        .and_then(|i| rule.overrides.get(i))
        .map_or(rule.limits.as_slice(), |o| o.limits.as_slice());
    let gcras = limits
        .iter()
        .map(|l| match mode {
            Mode::Shared => l.gcra,
            Mode::PerWorker { workers } => l.gcra.share(workers),
        })
        .collect();
    (gcras, limits, chosen)
}

/// Decides `request` under `config`, with buckets in `store` keyed with `seed`.
pub fn decide(
    config: &Compiled,
    mode: Mode,
    store: &dyn Slots,
    seed: (u64, u64),
    request: &Request<'_>,
) -> Decision {
    let mut decision = Decision {
        verdict: Verdict::Pass(None),
        events: Vec::new(),
        conflicts: 0,
        error: None,
        asks: Vec::new(),
    };
    let method = header(request.headers, ":method").unwrap_or("");
    let raw_path = path_only(header(request.headers, ":path").unwrap_or(""));
    let normal = match path::normalize(raw_path) {
        Ok(p) => p,
        Err(problem) => {
            decision.verdict = Verdict::BadPath(problem);
            return decision;
        }
    };
    let authority = header(request.headers, ":authority")
        .or_else(|| header(request.headers, "host"))
        .unwrap_or("");
    let mut claims: Option<Option<Map<String, Value>>> = None;
    let mut client: Option<Option<&str>> = None;
    let mut tightest: Option<Report> = None;
    for (index, rule) in config.rules.iter().enumerate() {
        if !rule
            .matcher
            .as_ref()
            .is_none_or(|m| m.matches(method, &normal))
            || !host_matches(&rule.hosts, authority)
        {
            continue;
        }
        let claims = if rule.reads_claims {
            claims
                .get_or_insert_with(|| {
                    tollgate_kit::contract::claims_from(header(
                        request.headers,
                        &config.claims_header,
                    ))
                })
                .as_ref()
        } else {
            None
        };
        if rule.exempt.iter().any(|c| holds(claims, c)) {
            decision.events.push((index, Event::Exempt));
            continue;
        }
        let client = *client.get_or_insert_with(|| {
            key::client_address(
                request.peer.map(key::without_port),
                header(request.headers, "x-forwarded-for"),
                config.xff_trusted_hops,
            )
        });
        let (gcras, limits, chosen) = limits_for(rule, claims, mode);
        let inputs = Inputs {
            method,
            path: &normal,
            headers: request.headers,
            client,
            claims,
        };
        let global_ask = match (&config.global, rule.global) {
            (Some(g), true) => {
                let set = match chosen {
                    Some(i) => format!("{}#{i}", rule.name),
                    None => rule.name.clone(),
                };
                let Some(key) = key::global_key(&set, &rule.key, rule.missing, &inputs) else {
                    decision.events.push((index, Event::Skipped));
                    continue;
                };
                let ask = GlobalAsk {
                    rule: index,
                    ask: Ask { set, key },
                    limits: limits.to_vec(),
                };
                if !g.pre_check {
                    decision.asks.push(ask);
                    continue;
                }
                Some(ask)
            }
            _ => None,
        };
        let Some(bucket) = key::bucket(seed, &rule.name, limits, &rule.key, rule.missing, &inputs)
        else {
            decision.events.push((index, Event::Skipped));
            continue;
        };
        let acquired = table::acquire(
            store,
            config.max_keys,
            bucket,
            &gcras,
            request.now,
            config.when_full,
            config.cas_retries,
        );
        let acquired = match acquired {
            Ok(a) => a,
            Err(e) => {
                decision.events.push((index, Event::Error));
                decision.error = Some(match e {
                    TableError::Contended { attempts } => {
                        format!(
                            "rule `{}`: every one of {attempts} updates lost to another worker",
                            rule.name
                        )
                    }
                    TableError::Store(s) => format!("rule `{}`: {}", rule.name, s.0),
                });
                if config.failure_mode == FailureMode::Closed {
                    decision.verdict = Verdict::Unavailable;
                    return decision;
                }
                continue;
            }
        };
        decision.conflicts = decision.conflicts.saturating_add(acquired.conflicts);
        if acquired.evicted {
            decision.events.push((index, Event::Evicted));
        }
        if acquired.full {
            decision.events.push((index, Event::Full));
        }
        match acquired.outcome {
            Outcome::Admit {
                tightest: t,
                remaining,
                reset,
                ..
            } => {
                if let Some(ask) = global_ask {
                    // The service decides; this proxy's bucket only pre-checked.
                    decision.asks.push(ask);
                    continue;
                }
                decision.events.push((index, Event::Allowed));
                if tightest.as_ref().is_none_or(|r| remaining < r.remaining)
                    && let (Some(limit), Some(gcra)) = (limits.get(t), gcras.get(t))
                {
                    tightest = Some(Report {
                        policy: limit.policy.clone(),
                        gcra: *gcra,
                        remaining,
                        reset,
                    });
                }
            }
            Outcome::Deny { limit, retry_after } => {
                if config.shadow || rule.shadow {
                    decision.events.push((index, Event::ShadowDenied));
                    continue;
                }
                if global_ask.is_some() {
                    decision.events.push((index, Event::PreChecked));
                }
                decision.events.push((index, Event::Denied));
                let pick = limits
                    .get(limit)
                    .zip(gcras.get(limit))
                    .or_else(|| limits.first().zip(gcras.first()));
                let Some((l, gcra)) = pick else {
                    continue;
                };
                let (policy, gcra) = (l.policy.clone(), *gcra);
                decision.verdict = Verdict::Limited {
                    rule: rule.name.clone(),
                    report: Report {
                        policy,
                        gcra,
                        remaining: 0,
                        reset: retry_after,
                    },
                };
                return decision;
            }
        }
    }
    decision.verdict = Verdict::Pass(tightest);
    decision
}

/// The verdict once the service answered: a global rule it says is over refuses the
/// request (or only counts, in shadow mode); otherwise the tightest report of the local
/// decision and the service's wins. `local` is the verdict `decide` reached.
pub fn settle(
    config: &Compiled,
    local: Option<Report>,
    asks: &[GlobalAsk],
    reply: &Reply,
) -> (Verdict, Vec<(usize, Event)>) {
    let mut events = Vec::with_capacity(asks.len());
    let mut tightest = local;
    for (i, ask) in asks.iter().enumerate() {
        let answer = reply.answers.get(i).copied().unwrap_or(crate::rls::Answer {
            over: reply.over,
            limit: None,
            remaining: None,
            reset: None,
        });
        let Some(rule) = config.rules.get(ask.rule) else {
            continue;
        };
        let limit = ask
            .limits
            .iter()
            .find(|l| answer.limit == Some(l.gcra.requests))
            .or_else(|| ask.limits.first());
        let Some(limit) = limit else {
            continue;
        };
        if answer.over {
            if config.shadow || rule.shadow {
                events.push((ask.rule, Event::ShadowDenied));
                continue;
            }
            events.push((ask.rule, Event::Denied));
            let report = Report {
                policy: limit.policy.clone(),
                gcra: limit.gcra,
                remaining: 0,
                reset: answer.reset.unwrap_or(limit.gcra.emission),
            };
            return (
                Verdict::Limited {
                    rule: rule.name.clone(),
                    report,
                },
                events,
            );
        }
        events.push((ask.rule, Event::Allowed));
        if let Some(remaining) = answer.remaining
            && tightest.as_ref().is_none_or(|r| remaining < r.remaining)
        {
            tightest = Some(Report {
                policy: limit.policy.clone(),
                gcra: limit.gcra,
                remaining,
                reset: answer.reset.unwrap_or(0),
            });
        }
    }
    (Verdict::Pass(tightest), events)
}

/// The verdict when the service failed: the failure mode decides.
pub fn service_failed(
    config: &Compiled,
    local: Option<Report>,
    asks: &[GlobalAsk],
) -> (Verdict, Vec<(usize, Event)>) {
    let events = asks.iter().map(|a| (a.rule, Event::Error)).collect();
    match config.failure_mode {
        FailureMode::Open => (Verdict::Pass(local), events),
        FailureMode::Closed => (Verdict::Unavailable, events),
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
