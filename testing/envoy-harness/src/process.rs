//! Starting and stopping an Envoy process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::binary::envoy_binary;
use crate::client::{self, HttpRequest, HttpResponse};
use crate::config::EnvoyConfig;

pub struct Envoy {
    child: Child,
    dir: PathBuf,
    admin: SocketAddr,
    listener: SocketAddr,
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Envoy {
    /// Starts Envoy with `config` and waits until it is ready (bounded: 60 s).
    pub fn start(config: &EnvoyConfig) -> Result<Self> {
        let binary = envoy_binary()?;
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            crate::children::scratch_dir(&format!("tollgate-envoy-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let config_path = dir.join("envoy.yaml");
        std::fs::write(&config_path, config.render(0))?;
        let admin_path = dir.join("admin-address");
        let log = std::fs::File::create(dir.join("envoy.log"))?;
        let mut command = crate::children::command(&binary, "KILL");
        if let Some(levels) = &config.component_log_level {
            command.args(["--component-log-level", levels]);
        }
        let child = command
            .arg("-c")
            .arg(&config_path)
            .args(["--concurrency", &config.concurrency.to_string()])
            .args(["-l", &config.log_level])
            .arg("--use-dynamic-base-id")
            .arg("--admin-address-path")
            .arg(&admin_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut envoy = Self {
            child,
            dir,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            listener: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        envoy.wait_ready(&admin_path)?;
        Ok(envoy)
    }

    fn wait_ready(&mut self, admin_path: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "Envoy exited with {status} during startup:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(text) = std::fs::read_to_string(admin_path)
                && let Ok(addr) = text.trim().parse()
            {
                self.admin = addr;
                let ready =
                    client::send(addr, &HttpRequest::get("/ready"), Duration::from_secs(2)).ok();
                if ready.as_ref().is_some_and(|r| r.status == 200) {
                    self.listener = self.listener_address()?;
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("Envoy was not ready within 60 s:\n{}", self.log_tail())
    }

    fn listener_address(&self) -> Result<SocketAddr> {
        let r = client::send(
            self.admin,
            &HttpRequest::get("/listeners?format=json"),
            Duration::from_secs(2),
        )?;
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        let sock = v
            .pointer("/listener_statuses/0/local_address/socket_address")
            .context("listener address in /listeners")?;
        let ip = sock
            .get("address")
            .and_then(serde_json::Value::as_str)
            .context("listener address")?;
        let port = sock
            .get("port_value")
            .and_then(serde_json::Value::as_u64)
            .context("listener port")?;
        Ok(format!("{ip}:{port}").parse()?)
    }

    /// Envoy's exit status if it has exited (a supervisor polls this).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Envoy's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The HTTP listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.listener
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// Sends a request through the listener (30 s timeout per read).
    pub fn send(&self, req: &HttpRequest) -> Result<HttpResponse> {
        client::send(self.listener, req, Duration::from_secs(30))
    }

    /// One value from the admin `/stats` endpoint.
    pub fn stat(&self, name: &str) -> Result<Option<u64>> {
        let r = client::send(
            self.admin,
            &HttpRequest::get(&format!("/stats?filter=^{name}$")),
            Duration::from_secs(5),
        )?;
        Ok(r.body_text().lines().find_map(|l| {
            l.split_once(": ")
                .filter(|(n, _)| *n == name)
                .and_then(|(_, v)| v.trim().parse().ok())
        }))
    }

    /// The last lines of Envoy's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(40)..)
            .unwrap_or_default()
            .join("\n")
    }

    /// Everything Envoy logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
