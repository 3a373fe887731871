//! Starting, watching and stopping an nginx host.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tollgate_envoy_harness::{HttpRequest, HttpResponse, repo_root, send};

use crate::conf::{NginxConfig, NginxHost};

/// How long the log must stay free of failures after the filters loaded.
const SETTLE: Duration = Duration::from_millis(750);

/// Error-log lines that mean a filter did not load or a worker died.
const FAILURES: [&str; 6] = [
    "[emerg]",
    "failed to load wasm plugin",
    "failed to new instance",
    "exited on signal",
    "incompatible host interface",
    "unknown import",
];

/// `$TOLLGATE_HOSTS`, else `../shared/hosts` beside the repository (where every
/// developer and CI has it).
pub fn hosts_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("TOLLGATE_HOSTS") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/hosts"),
    };
    if !dir.join("prebuilt").is_dir() {
        bail!(
            "the prebuilt Kong and APISIX hosts are not at {} (set TOLLGATE_HOSTS to the folder that holds prebuilt/)",
            dir.display()
        );
    }
    Ok(dir)
}

fn binary(host: NginxHost) -> Result<PathBuf> {
    let path = hosts_dir()?
        .join("prebuilt")
        .join(host.name())
        .join("sbin/nginx");
    if !path.is_file() {
        bail!("{} is missing", path.display());
    }
    Ok(path)
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A running host; dropping it stops nginx (master and workers).
pub struct Nginx {
    host: NginxHost,
    prefix: PathBuf,
    addr: SocketAddr,
    master: Option<u32>,
}

impl Nginx {
    /// Starts the host and waits until every worker has loaded the filters (bounded:
    /// 90 s; Kong compiles each module in each worker). Fails with the error log's
    /// relevant lines if a filter does not load.
    pub fn start(config: &NginxConfig) -> Result<Self> {
        let binary = binary(config.host)?;
        // APISIX's conf carries each config in a Lua long string `[==[…]==]`.
        if config.host == NginxHost::Apisix
            && config.filters.iter().any(|f| f.config.contains("]==]"))
        {
            bail!("a filter config contains `]==]`, which cannot go into APISIX's Lua long string");
        }
        let lualib = hosts_dir()?.join("prebuilt/apisix/lualib");
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prefix = std::env::temp_dir().join(format!(
            "tollgate-{}-{}-{n}",
            config.host.name(),
            std::process::id()
        ));
        // The last run's files would confuse the log checks.
        let _ = std::fs::remove_dir_all(&prefix);
        for dir in ["conf", "logs", "tmp"] {
            std::fs::create_dir_all(prefix.join(dir))?;
        }
        let port = free_port()?;
        let conf = prefix.join("conf/nginx.conf");
        std::fs::write(&conf, config.render(&prefix, port, &lualib))?;
        let out = Command::new(&binary)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            .output()
            .with_context(|| format!("starting {}", binary.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let hint = if stderr.contains("libpcre.so.3") {
                " (run scripts/setup: it installs libpcre3)"
            } else {
                ""
            };
            bail!("{} did not start{hint}: {stderr}", config.host.name());
        }
        let mut nginx = Self {
            host: config.host,
            prefix,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            master: None,
        };
        nginx.wait_ready(config)?;
        Ok(nginx)
    }

    fn wait_ready(&mut self, config: &NginxConfig) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(90);
        let loaded_needed = match config.host {
            // Kong logs each module it loads, in each worker.
            NginxHost::Kong => config.filters.len() * config.workers as usize,
            // APISIX loads in init_worker and logs only failures.
            NginxHost::Apisix => 0,
        };
        let mut since_loaded: Option<Instant> = None;
        while Instant::now() < deadline {
            if self.master.is_none() {
                self.master = self.read_pid();
            }
            let log = self.error_log();
            if let Some(line) = log.lines().find(|l| FAILURES.iter().any(|f| l.contains(f))) {
                bail!(
                    "{} did not load the filters: {line}\n{}",
                    self.host.name(),
                    self.log_tail()
                );
            }
            let loaded = log.matches("successfully loaded").count();
            if self.master.is_some() && loaded >= loaded_needed {
                // Settled once nothing failed for a while after the last module loaded:
                // Kong starts each filter (`on_configure`) right after loading it, and
                // a refused config shows a moment later (later still on a busy machine);
                // APISIX logs only failures, within moments of the workers' start.
                let all_loaded = *since_loaded.get_or_insert_with(Instant::now);
                if all_loaded.elapsed() > SETTLE {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{} was not ready within 90 s:\n{}",
            self.host.name(),
            self.log_tail()
        )
    }

    pub fn host(&self) -> NginxHost {
        self.host
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends a request (30 s timeout per read).
    pub fn send(&self, req: &HttpRequest) -> Result<HttpResponse> {
        send(self.addr, req, Duration::from_secs(30))
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("logs/error.log")).unwrap_or_default()
    }

    /// How many workers died of a signal (a crash) so far.
    pub fn worker_crashes(&self) -> usize {
        self.error_log().matches("exited on signal").count()
    }

    /// Fails with the log if a worker crashed or a filter failed to load.
    pub fn assert_healthy(&self) -> Result<()> {
        let log = self.error_log();
        if let Some(line) = log.lines().find(|l| FAILURES.iter().any(|f| l.contains(f))) {
            bail!("{}: {line}\n{}", self.host.name(), self.log_tail());
        }
        Ok(())
    }

    /// The last lines of the error log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.error_log();
        let lines: Vec<&str> = log.lines().collect();
        lines
            .get(lines.len().saturating_sub(40)..)
            .unwrap_or_default()
            .join("\n")
    }

    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    fn read_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.prefix.join("logs/nginx.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok())
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The pid file may have appeared after the last look (a start that failed).
        let pid = self.master.or_else(|| self.read_pid());
        if let Some(pid) = pid {
            stop(pid);
        }
        // Failures print the log's tail before this runs.
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

/// Stops an nginx master and its workers (bounded: 10 s, then SIGKILL).
fn stop(pid: u32) {
    let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();
    // TERM: nginx's fast shutdown, workers included (QUIT would wait for idle
    // keep-alive connections).
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &pid.to_string()])
            .status();
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
}
