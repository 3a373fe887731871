//! A real Redis (Debian's `redis-server`, installed by `scripts/setup`) on a loopback
//! port, for one test or the main job: no persistence, its files in a scratch
//! directory, stopped (and the directory removed) on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::children::{command, scratch_dir};

pub struct Redis {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

/// `redis-server` from `TOLLGATE_REDIS` or the `PATH`.
fn binary() -> String {
    std::env::var("TOLLGATE_REDIS").unwrap_or_else(|_| "redis-server".into())
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf.get(..n) == Some(b"+PONG\r\n"))
}

impl Redis {
    pub fn start() -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = scratch_dir(&format!("redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = command(binary(), "KILL")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (Debian's redis-server; scripts/setup installs it)",
                    binary()
                )
            })?;
        let mut redis = Self { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ping(port) {
            if let Ok(Some(status)) = redis.child.try_wait() {
                bail!("redis-server exited at start: {status}");
            }
            if Instant::now() > deadline {
                bail!("redis-server did not answer PING within 20 s");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it now (a test of what happens when Redis goes away).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
