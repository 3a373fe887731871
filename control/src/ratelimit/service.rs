//! The decision: each descriptor of a `ShouldRateLimit` request is checked and counted
//! on its own (as Envoy's ratelimit service does), and the request is over the limit if
//! any descriptor is. A descriptor no limit applies to is OK.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::Duration as ProtoDuration;
use limitador::counter::Counter;
use limitador::limit::{Context, Limit, Namespace};
use limitador::{AsyncRateLimiter, CheckResult, RateLimiter};

use super::redis_counters::{RedisCounters, UNAVAILABLE};

/// Where counters live.
pub enum Counters {
    /// This process's memory: exact, for one instance.
    Memory(RateLimiter),
    /// Redis: every instance pointed at it shares the counters.
    Redis(AsyncRateLimiter),
}

impl Counters {
    pub fn memory(max_counters: u64) -> Self {
        Self::Memory(RateLimiter::new(max_counters))
    }

    pub async fn redis(url: &str) -> Result<Self, String> {
        let storage = RedisCounters::connect(url).await?;
        Ok(Self::Redis(AsyncRateLimiter::new_with_storage(Box::new(
            storage,
        ))))
    }

    async fn check(
        &self,
        ns: &Namespace,
        ctx: &Context<'_>,
        delta: u64,
    ) -> Result<CheckResult, String> {
        let result = match self {
            Self::Memory(l) => l.check_rate_limited_and_update(ns, ctx, delta),
            Self::Redis(l) => l.check_rate_limited_and_update(ns, ctx, delta).await,
        }
        .map_err(|e| e.to_string())?;
        if result.limit_name.as_deref() == Some(UNAVAILABLE) {
            return Err("Redis failed".into());
        }
        Ok(result)
    }

    /// Replaces every limit (counters of limits that stay are kept).
    pub async fn configure(&self, limits: Vec<Limit>) -> Result<(), String> {
        match self {
            Self::Memory(l) => l.configure_with(limits),
            Self::Redis(l) => l.configure_with(limits).await,
        }
        .map_err(|e| e.to_string())
    }
}

/// Counts for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    pub ok: AtomicU64,
    pub over_limit: AtomicU64,
    pub errors: AtomicU64,
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    pub limits: AtomicU64,
}

/// The service: counters and what they count.
pub struct Rls {
    pub counters: Counters,
    pub stats: Stats,
}

/// `Unit` for a window of `seconds`, when it is one.
fn unit(seconds: u64) -> Unit {
    match seconds {
        1 => Unit::Second,
        60 => Unit::Minute,
        3600 => Unit::Hour,
        86_400 => Unit::Day,
        604_800 => Unit::Week,
        _ => Unit::Unknown,
    }
}

fn status_of(result: &CheckResult) -> DescriptorStatus {
    let code = if result.limited {
        Code::OverLimit
    } else {
        Code::Ok
    };
    // The counter that says most: the limited one, else the one with least left.
    let remaining = |c: &Counter| c.remaining().unwrap_or_else(|| c.max_value());
    let counter = result
        .counters
        .iter()
        .filter(|c| {
            !result.limited || remaining(c) == 0 || result.limit_name.as_deref() == c.limit().name()
        })
        .min_by_key(|c| remaining(c));
    DescriptorStatus {
        code: code as i32,
        current_limit: counter.map(|c| RateLimit {
            name: c.limit().name().unwrap_or_default().to_string(),
            requests_per_unit: u32::try_from(c.max_value()).unwrap_or(u32::MAX),
            unit: unit(c.limit().seconds()) as i32,
        }),
        limit_remaining: counter
            .map(|c| u32::try_from(remaining(c)).unwrap_or(u32::MAX))
            .unwrap_or(0),
        duration_until_reset: counter.and_then(Counter::expires_in).map(|d: Duration| {
            ProtoDuration {
                seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
            }
        }),
        quota: None,
    }
}

impl Rls {
    /// Decides one `ShouldRateLimit` request. A counter store that fails (Redis down)
    /// is an error: the proxy's failure mode decides.
    pub async fn should_rate_limit(
        &self,
        request: &RateLimitRequest,
    ) -> Result<RateLimitResponse, String> {
        let namespace = Namespace::from(request.domain.as_str());
        let delta = u64::from(request.hits_addend.max(1));
        let mut statuses = Vec::with_capacity(request.descriptors.len());
        let mut over = false;
        for d in &request.descriptors {
            let entries: HashMap<String, String> = d
                .entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            let mut ctx = Context::default();
            ctx.list_binding("descriptors".into(), vec![entries]);
            let result = self
                .counters
                .check(&namespace, &ctx, delta)
                .await
                .inspect_err(|_| {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                })?;
            over |= result.limited;
            statuses.push(status_of(&result));
        }
        let counter = if over {
            &self.stats.over_limit
        } else {
            &self.stats.ok
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(RateLimitResponse {
            overall_code: if over { Code::OverLimit } else { Code::Ok } as i32,
            statuses,
            ..RateLimitResponse::default()
        })
    }
}

/// The gRPC face.
pub struct Grpc(pub std::sync::Arc<Rls>);

#[tonic::async_trait]
impl envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitService
    for Grpc
{
    async fn should_rate_limit(
        &self,
        request: tonic::Request<RateLimitRequest>,
    ) -> Result<tonic::Response<RateLimitResponse>, tonic::Status> {
        match self.0.should_rate_limit(request.get_ref()).await {
            Ok(r) => Ok(tonic::Response::new(r)),
            Err(e) => {
                tracing::error!(error = %e, "cannot check the limits");
                Err(tonic::Status::unavailable("the counters are unavailable"))
            }
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
