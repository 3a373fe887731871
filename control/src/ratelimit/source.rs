//! Where the limits come from: a rate-limit config file, or the control service (the
//! group's `rate-limit` config, resolved and signed). Either is read again every
//! `interval`; a change is applied, a bad one is logged and counted and the old limits
//! stay.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use super::limits::{Limits, from_config};
use super::service::Rls;

/// The rate-limit filter's name in the catalog (and in the control service's paths).
const FILTER: &str = "rate-limit";

#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Control {
        url: String,
        project: String,
        group: String,
        /// A gateway token of the project.
        token: String,
        /// Its id in the group's fleet view (the pull protocol's `Tollgate-Gateway`):
        /// with it, it reports what it runs and what it refused.
        gateway: Option<String>,
    },
}

/// The source's state between reads.
pub struct Follower {
    source: Source,
    http: reqwest::Client,
    /// File: its modification time; control: the ETag.
    seen: Option<String>,
    /// Control: the revision running, and the last one refused with why (reported on
    /// the next read).
    running: Option<u64>,
    refused: Option<(u64, String)>,
}

impl Follower {
    pub fn new(source: Source) -> Self {
        Self {
            source,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            seen: None,
            running: None,
            refused: None,
        }
    }

    /// The limits if they changed since the last read; `Ok(None)` if not.
    pub async fn poll(&mut self) -> Result<Option<Limits>, String> {
        match &self.source {
            Source::File(path) => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let stamp = meta
                    .modified()
                    .unwrap_or(SystemTime::UNIX_EPOCH)
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| format!("{}:{}", d.as_nanos(), meta.len()))
                    .unwrap_or_default();
                if self.seen.as_deref() == Some(stamp.as_str()) {
                    return Ok(None);
                }
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let limits = from_config(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                self.seen = Some(stamp);
                Ok(Some(limits))
            }
            Source::Control {
                url,
                project,
                group,
                token,
                gateway,
            } => {
                let base = url.trim_end_matches('/');
                let mut request = self
                    .http
                    .get(format!(
                        "{base}/v1/projects/{project}/groups/{group}/configs/{FILTER}/resolved"
                    ))
                    .bearer_auth(token);
                if let Some(etag) = &self.seen {
                    request = request.header("if-none-match", etag);
                }
                if let Some(id) = gateway {
                    request = request.header("tollgate-gateway", id);
                    if let Some(n) = self.running {
                        request = request.header("tollgate-running", n.to_string());
                    }
                    if let Some((n, why)) = &self.refused {
                        // Header values are one line of visible ASCII.
                        let why: String = why
                            .chars()
                            .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
                            .collect();
                        request = request
                            .header("tollgate-refused", n.to_string())
                            .header("tollgate-error", why);
                    }
                }
                let r = request
                    .send()
                    .await
                    .map_err(|e| format!("the control service: {e}"))?;
                if r.status() == reqwest::StatusCode::NOT_MODIFIED {
                    return Ok(None);
                }
                if !r.status().is_success() {
                    return Err(format!("the control service answered {}", r.status()));
                }
                let etag = r
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let signature = r
                    .headers()
                    .get("tollgate-signature")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .ok_or("the config came without its signature")?;
                let body = r.bytes().await.map_err(|e| e.to_string())?;
                let keys: serde_json::Value = self
                    .http
                    .get(format!("{base}/v1/signing-keys"))
                    .send()
                    .await
                    .map_err(|e| format!("the control service: {e}"))?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                let revision = crate::gateway::verify_resolved(&signature, &body, &keys, FILTER)
                    .map_err(|e| e.to_string())?;
                let limits = match from_config(&body) {
                    Ok(l) => l,
                    Err(e) => {
                        let why = format!("revision {revision}: {e}");
                        self.refused = Some((revision, why.clone()));
                        return Err(why);
                    }
                };
                tracing::info!(revision, "the control service's rate-limit config");
                self.seen = etag;
                self.running = Some(revision);
                self.refused = None;
                Ok(Some(limits))
            }
        }
    }
}

/// Applies new limits to the service.
pub async fn apply(rls: &Rls, limits: Limits) -> Result<(), String> {
    let n = limits.limits.len();
    rls.counters.configure(limits.limits).await?;
    rls.stats.limits.store(n as u64, Ordering::Relaxed);
    rls.stats.reloads.fetch_add(1, Ordering::Relaxed);
    tracing::info!(domain = %limits.domain, sets = ?limits.sets, limits = n, "limits loaded");
    Ok(())
}

/// Reads the source every `interval` until `stop` resolves.
pub async fn follow(
    mut follower: Follower,
    rls: Arc<Rls>,
    ready: Arc<AtomicBool>,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(interval) => {}
        }
        match follower.poll().await {
            Ok(Some(limits)) => match apply(&rls, limits).await {
                Ok(()) => ready.store(true, Ordering::Relaxed),
                Err(e) => failed(&rls, &e),
            },
            Ok(None) => {}
            Err(e) => failed(&rls, &e),
        }
    }
}

fn failed(rls: &Rls, why: &str) {
    rls.stats.reload_failures.fetch_add(1, Ordering::Relaxed);
    tracing::error!(error = %why, "new limits refused; the old ones stay");
}
