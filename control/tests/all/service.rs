//! The `tollgate-control` binary over a real socket: started on a loopback port,
//! stopped by SIGTERM (graceful) or SIGKILL (crash), restarted on the same database.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Service {
    pub child: Child,
    pub url: String,
    pub admin: String,
    pub log: PathBuf,
}

impl Service {
    /// Starts the service on `storage` with its files in `dir`.
    pub fn start(dir: &Path, storage: &str, extra: &[&str]) -> Self {
        let log = dir.join(format!("log-{}.jsonl", std::process::id() ^ rand_suffix()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate-control"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--storage",
                storage,
                "--log-json",
                "--init-master-key",
            ])
            .arg("--master-key-file")
            .arg(dir.join("master.key"))
            .arg("--admin-token-file")
            .arg(dir.join("admin.token"))
            .args(extra)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut reader = BufReader::new(stdout);
        while !line.starts_with("listening on ") {
            line.clear();
            assert!(Instant::now() < deadline, "the service did not start");
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!(
                    "the service exited: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
        let addr = line.trim().trim_start_matches("listening on ").to_string();
        let admin = std::fs::read_to_string(dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        Self {
            child,
            url: format!("http://{addr}"),
            admin,
            log,
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
