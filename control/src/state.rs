//! The service's state: storage, the master key, settings, metrics, the per-token rate
//! limiter, and the shutdown signal that ends long polls.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::metrics::Metrics;
use crate::store::SharedStore;
use crate::vault::MasterKey;

/// Tunables, with the defaults the service starts with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest request body (a bundle is the largest thing pushed). Default 20 MiB.
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 408. Default 30 s.
    pub request_timeout: Duration,
    /// Longest long poll (`Prefer: wait=N` is capped to it). Default 25 s, under the
    /// request timeout.
    pub long_poll_max: Duration,
    /// Session tokens from `POST /v1/login` live this long. Default 15 min.
    pub session_ttl_seconds: u64,
    /// A rotated signing key still verifies this long. Default 7 days.
    pub key_grace_seconds: u64,
    /// A rotated secret's previous version still resolves this long. Default 24 h.
    pub secret_grace_seconds: u64,
    /// Requests per second per token (or per client address without one). Default 50.
    pub rate_per_second: u32,
    /// Burst above the rate. Default 100.
    pub rate_burst: u32,
    /// ECDS and the modules it names.
    pub ecds: crate::ecds::EcdsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 20 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            long_poll_max: Duration::from_secs(25),
            session_ttl_seconds: 15 * 60,
            key_grace_seconds: 7 * 24 * 3600,
            secret_grace_seconds: 24 * 3600,
            rate_per_second: 50,
            rate_burst: 100,
            ecds: crate::ecds::EcdsSettings::default(),
        }
    }
}

pub struct Control {
    pub store: SharedStore,
    pub master: MasterKey,
    pub settings: Settings,
    pub metrics: Metrics,
    pub limiter: DefaultKeyedRateLimiter<String>,
    /// Gateways' counters (Envoy's stats sink), for rollouts' error signal.
    pub signals: crate::signals::Signals,
    shutdown: tokio::sync::watch::Sender<bool>,
}

pub type AppState = Arc<Control>;

impl Control {
    pub fn new(store: SharedStore, master: MasterKey, settings: Settings) -> AppState {
        let rate = NonZeroU32::new(settings.rate_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.rate_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst));
        let (shutdown, _) = tokio::sync::watch::channel(false);
        Arc::new(Self {
            store,
            master,
            settings,
            metrics: Metrics::default(),
            limiter,
            signals: crate::signals::Signals::default(),
            shutdown,
        })
    }

    /// Ends long polls (they answer 304 at once) and refuses new ones.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutting_down(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}
