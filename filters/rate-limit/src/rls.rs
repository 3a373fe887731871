//! Envoy's rate-limit service API (`envoy.service.ratelimit.v3.RateLimitService/
//! ShouldRateLimit`): the request a proxy sends and the answer it reads, as protobuf
//! (gRPC, on Envoy) and as the JSON of the services' HTTP endpoint (`POST /json` on
//! Envoy's ratelimit service and on Tollgate's), for hosts without gRPC callouts.
//!
//! Every descriptor carries two entries: `tollgate_rule` (the rule, or
//! `<rule>#<override>` when an override's limits apply) and `tollgate_key` (the bucket:
//! a one-way hash of the key parts, the same on every proxy, so no API key or user id
//! reaches the service or its Redis in clear). Envoy's ratelimit service matches them
//! with `key: tollgate_rule, value: <rule>` and a nested `key: tollgate_key`.

use prost::Message;
use serde_json::{Value, json};

/// The gRPC service and method.
pub const SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";
pub const METHOD: &str = "ShouldRateLimit";
/// Descriptor entry keys.
pub const RULE_ENTRY: &str = "tollgate_rule";
pub const KEY_ENTRY: &str = "tollgate_key";

#[derive(Clone, PartialEq, Message)]
pub struct RateLimitRequest {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(message, repeated, tag = "2")]
    pub descriptors: Vec<Descriptor>,
    #[prost(uint32, tag = "3")]
    pub hits_addend: u32,
}

/// `envoy.extensions.common.ratelimit.v3.RateLimitDescriptor` (entries only).
#[derive(Clone, PartialEq, Message)]
pub struct Descriptor {
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<Entry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Entry {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct RateLimitResponse {
    /// 0 unknown, 1 OK, 2 OVER_LIMIT.
    #[prost(int32, tag = "1")]
    pub overall_code: i32,
    #[prost(message, repeated, tag = "2")]
    pub statuses: Vec<DescriptorStatus>,
}

#[derive(Clone, PartialEq, Message)]
pub struct DescriptorStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(message, optional, tag = "2")]
    pub current_limit: Option<CurrentLimit>,
    #[prost(uint32, tag = "3")]
    pub limit_remaining: u32,
    #[prost(message, optional, tag = "4")]
    pub duration_until_reset: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CurrentLimit {
    #[prost(uint32, tag = "1")]
    pub requests_per_unit: u32,
    #[prost(int32, tag = "2")]
    pub unit: i32,
    #[prost(string, tag = "3")]
    pub name: String,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

pub const CODE_OK: i32 = 1;
pub const CODE_OVER_LIMIT: i32 = 2;

/// One bucket to ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// `tollgate_rule`'s value.
    pub set: String,
    /// `tollgate_key`'s value.
    pub key: String,
}

/// What the service said about one descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub over: bool,
    /// The limit the service reports (its requests per unit), if it said.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Nanoseconds until the service's window resets, if it said.
    pub reset: Option<u64>,
}

/// The service's whole answer: one [`Answer`] per descriptor asked, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub over: bool,
    pub answers: Vec<Answer>,
}

/// The protobuf request.
pub fn encode(domain: &str, asks: &[Ask]) -> Vec<u8> {
    RateLimitRequest {
        domain: domain.to_string(),
        descriptors: asks
            .iter()
            .map(|a| Descriptor {
                entries: vec![
                    Entry {
                        key: RULE_ENTRY.into(),
                        value: a.set.clone(),
                    },
                    Entry {
                        key: KEY_ENTRY.into(),
                        value: a.key.clone(),
                    },
                ],
            })
            .collect(),
        hits_addend: 1,
    }
    .encode_to_vec()
}

/// The JSON request (protobuf's JSON mapping).
pub fn encode_json(domain: &str, asks: &[Ask]) -> Vec<u8> {
    let descriptors: Vec<Value> = asks
        .iter()
        .map(|a| {
            json!({"entries": [{"key": RULE_ENTRY, "value": a.set},
                               {"key": KEY_ENTRY, "value": a.key}]})
        })
        .collect();
    json!({"domain": domain, "descriptors": descriptors, "hitsAddend": 1})
        .to_string()
        .into_bytes()
}

fn nanos(seconds: i64, nanos: i32) -> Option<u64> {
    let s = u64::try_from(seconds).ok()?;
    let n = u64::try_from(nanos).ok()?;
    s.checked_mul(1_000_000_000)?.checked_add(n)
}

/// Reads a protobuf answer for `asked` descriptors. An answer that is not OK or
/// OVER_LIMIT, or that does not say over or not, is an error.
pub fn decode(bytes: &[u8], asked: usize) -> Result<Reply, String> {
    let r = RateLimitResponse::decode(bytes).map_err(|e| format!("malformed answer: {e}"))?;
    let answers = (0..asked)
        .map(|i| match r.statuses.get(i) {
            Some(s) => Answer {
                over: s.code == CODE_OVER_LIMIT,
                limit: s
                    .current_limit
                    .as_ref()
                    .map(|l| u64::from(l.requests_per_unit)),
                remaining: s
                    .current_limit
                    .as_ref()
                    .map(|_| u64::from(s.limit_remaining)),
                reset: s
                    .duration_until_reset
                    .as_ref()
                    .and_then(|d| nanos(d.seconds, d.nanos)),
            },
            None => Answer {
                over: false,
                limit: None,
                remaining: None,
                reset: None,
            },
        })
        .collect();
    reply(r.overall_code, answers)
}

fn reply(overall: i32, answers: Vec<Answer>) -> Result<Reply, String> {
    match overall {
        CODE_OK => Ok(Reply {
            over: false,
            answers,
        }),
        CODE_OVER_LIMIT => Ok(Reply {
            over: true,
            answers,
        }),
        other => Err(format!("the service answered code {other}")),
    }
}

fn code_of(v: Option<&Value>) -> i32 {
    match v {
        Some(Value::String(s)) if s == "OK" => CODE_OK,
        Some(Value::String(s)) if s == "OVER_LIMIT" => CODE_OVER_LIMIT,
        Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(0),
        _ => 0,
    }
}

/// `"1.5s"` (protobuf's JSON for a Duration) in nanoseconds.
fn json_duration(v: Option<&Value>) -> Option<u64> {
    let text = v?.as_str()?.strip_suffix('s')?;
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let seconds: u64 = whole.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    let n: u64 = digits.parse().ok()?;
    seconds.checked_mul(1_000_000_000)?.checked_add(n)
}

/// Reads a JSON answer (`POST /json`) for `asked` descriptors.
pub fn decode_json(bytes: &[u8], asked: usize) -> Result<Reply, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("malformed answer: {e}"))?;
    let statuses = v.get("statuses").and_then(Value::as_array);
    let answers = (0..asked)
        .map(|i| {
            let s = statuses.and_then(|s| s.get(i));
            let current = s.and_then(|s| s.get("currentLimit"));
            Answer {
                over: code_of(s.and_then(|s| s.get("code"))) == CODE_OVER_LIMIT,
                limit: current
                    .and_then(|c| c.get("requestsPerUnit"))
                    .and_then(Value::as_u64),
                remaining: s.and_then(|s| s.get("currentLimit")).map(|_| {
                    s.and_then(|s| s.get("limitRemaining"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                }),
                reset: json_duration(s.and_then(|s| s.get("durationUntilReset"))),
            }
        })
        .collect();
    reply(code_of(v.get("overallCode")), answers)
}

#[cfg(test)]
#[path = "rls_tests.rs"]
mod tests;
