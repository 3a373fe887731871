//! s3s-fs, a real S3 server that verifies SigV4, as a child process on loopback with a
//! scratch directory; both go away on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::repo_root;

/// `$TOLLGATE_S3S_FS`, else `.tollgate/tools/bin/s3s-fs` (installed by `scripts/setup`).
pub fn s3s_fs_binary() -> Result<PathBuf> {
    let path = std::env::var_os("TOLLGATE_S3S_FS")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                repo_root().join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| repo_root().join(".tollgate/tools/bin/s3s-fs"));
    if !path.is_file() {
        bail!("s3s-fs not found at {}: run scripts/setup", path.display());
    }
    Ok(path)
}

pub struct S3Server {
    addr: SocketAddr,
    root: PathBuf,
    child: Child,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl S3Server {
    /// Starts s3s-fs accepting only `access_key`/`secret_key`, with `buckets` created.
    pub fn start(access_key: &str, secret_key: &str, buckets: &[&str]) -> Result<Self> {
        let root = crate::children::scratch_dir(&format!(
            "tollgate-s3-{}-{}",
            std::process::id(),
            free_port()?
        ));
        for b in buckets {
            std::fs::create_dir_all(root.join(b))?;
        }
        let port = free_port()?;
        let child = crate::children::command(s3s_fs_binary()?, "KILL")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", access_key, "--secret-key", secret_key])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting s3s-fs")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut server = Self { addr, root, child };
        // Bounded wait for the listener.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline || server.child.try_wait()?.is_some() {
                bail!("s3s-fs did not start listening on {addr}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the objects are stored.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
