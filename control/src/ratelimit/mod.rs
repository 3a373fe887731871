//! `tollgate-ratelimit`: a server of Envoy's rate-limit service API
//! (`envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`) on the `limitador`
//! crate, for rate-limit's `global` rules.
//!
//! * [`limits`]: limitador limits derived from a rate-limit filter config, read with the
//!   filter's own loader (one definition of the limits, for the filters and for this);
//! * [`service`]: the decision per descriptor, counters in memory (exact, one
//!   instance) or in Redis (several instances, so several gateways, share one budget);
//! * [`http`]: the same over JSON (`POST /json`, as Envoy's ratelimit service serves
//!   it, for Kong and APISIX), health and metrics;
//! * [`source`]: the limits from a file or from the control service, reloaded when they
//!   change (a bad new config keeps the old limits);
//! * [`server`]: all of it started and stopped as one (the binary, and tests).

pub mod http;
pub mod limits;
pub mod redis_counters;
pub mod server;
pub mod service;
pub mod source;
