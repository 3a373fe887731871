//! The main job as a supervisor: every way of stopping it leaves no process and no file
//! behind, a dead Envoy is reported, and its memory stays flat under load.
//!
//! Each test runs the real `tollgate-demo run` (real Envoy, the built filters in
//! `dist/`) with its own `TMPDIR`, so what the job leaves behind is exactly what is left
//! in that directory, and the processes still running are those whose command line
//! names it (Envoy's config, the reaper's directory).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use tollgate_envoy_harness::{HttpRequest, repo_root, send};

struct Job {
    child: Child,
    tmp: PathBuf,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Job {
    fn start() -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp =
            std::env::temp_dir().join(format!("tollgate-main-job-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate-demo"))
            .args(["run", "--dist"])
            .arg(repo_root().join("dist"))
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Self {
            child,
            tmp,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a line containing `text`; returns it.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.seen.push(line.clone());
                if line.contains(text) {
                    return line;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the job exited with {status} before `{text}`:\n{}",
                    self.seen.join("\n")
                );
            }
        }
        panic!("no `{text}` within 120 s:\n{}", self.seen.join("\n"));
    }

    fn running(mut self) -> Self {
        self.wait_for("running;");
        self
    }

    fn signal(&self, signal: &str) {
        signal_pid(self.child.id(), signal);
    }

    /// Waits (bounded) for the job to exit; its exit code and everything it printed.
    fn exit(&mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the job did not exit within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(100));
        self.seen.extend(self.lines.try_iter());
        (status.code(), self.seen.join("\n"))
    }

    fn listener(&mut self) -> SocketAddr {
        let line = self
            .seen
            .iter()
            .find(|l| l.starts_with("Tollgate edge on"))
            .cloned()
            .unwrap();
        let url = line.split_whitespace().nth(3).unwrap();
        url.trim_start_matches("http://").parse().unwrap()
    }

    /// Processes whose command line names this job's temp dir, and files left in it;
    /// waits (bounded) for them to go, as pdeathsig and the reaper act asynchronously.
    fn assert_nothing_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let procs = processes_naming(&self.tmp);
            let files: Vec<PathBuf> = std::fs::read_dir(&self.tmp)
                .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            if procs.is_empty() && files.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!("left behind: processes {procs:?}, files {files:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (pid, _) in processes_naming(&self.tmp) {
            signal_pid(pid, "KILL");
        }
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn signal_pid(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// (pid, command line) of every process whose command line contains `dir`.
fn processes_naming(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.display().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(&needle) {
            out.push((pid, cmdline));
        }
    }
    out
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn sigterm_sighup_and_sigint_stop_everything() {
    for (signal, code) in [("TERM", 143), ("HUP", 129), ("INT", 130)] {
        let mut job = Job::start().running();
        assert!(
            !processes_naming(&job.tmp).is_empty(),
            "Envoy runs under the job's TMPDIR"
        );
        job.signal(signal);
        let (status, out) = job.exit();
        assert_eq!(status, Some(code), "SIG{signal}:\n{out}");
        assert!(out.contains(&format!("SIG{signal}: stopping")), "{out}");
        job.assert_nothing_left();
    }
}

#[test]
fn a_signal_during_start_up_stops_what_started() {
    let mut job = Job::start();
    // The scratch directory exists before any child starts: signal as soon as it does.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&job.tmp)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "no scratch directory");
        std::thread::sleep(Duration::from_millis(5));
    }
    job.signal("INT");
    let (status, out) = job.exit();
    assert_eq!(status, Some(130), "{out}");
    assert!(out.contains("SIGINT"), "{out}");
    assert!(
        !out.contains("running;"),
        "it stopped during start-up: {out}"
    );
    job.assert_nothing_left();
}

#[test]
fn sigkill_of_the_job_leaves_nothing_behind() {
    let mut job = Job::start().running();
    job.signal("KILL");
    let (status, _) = job.exit();
    assert_eq!(status, None, "killed by a signal");
    job.assert_nothing_left();
}

#[test]
fn a_dead_envoy_is_reported_and_stops_the_job() {
    let mut job = Job::start();
    let banner = job.wait_for("Tollgate edge on");
    let envoy_pid: u32 = banner
        .split("Envoy pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    job.wait_for("running;");
    signal_pid(envoy_pid, "KILL");
    let (status, out) = job.exit();
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains(&format!("Envoy (pid {envoy_pid}) exited unexpectedly")),
        "{out}"
    );
    job.assert_nothing_left();
}

/// The demo upstreams keep nothing per request: thousands of 16 KiB requests later the
/// job's resident memory is where it was after a warm-up. (The echo server that kept
/// every request grew by the body and ~1 KiB per request: 80 MiB here.)
#[test]
fn memory_stays_flat_under_load() {
    let mut job = Job::start().running();
    let addr = job.listener();
    let body = vec![b'x'; 16 * 1024];
    let post = |i: usize| {
        let req = HttpRequest::new("POST", &format!("/health/soak/{i}")).body(body.clone());
        let r = send(addr, &req, Duration::from_secs(10)).unwrap();
        // Who answered, when not 200: the body and headers name the filter or Envoy.
        assert_eq!(
            r.status,
            200,
            "request {i}: {:?} {}",
            r.headers,
            r.body_text().chars().take(300).collect::<String>()
        );
    };
    for i in 0..500 {
        post(i);
    }
    let before = rss_kib(job.child.id());
    for i in 0..5_000 {
        post(i);
    }
    let after = rss_kib(job.child.id());
    assert!(
        after < before + 16 * 1024,
        "resident memory grew from {before} KiB to {after} KiB over 5000 requests"
    );
    job.signal("TERM");
    assert_eq!(job.exit().0, Some(143));
    job.assert_nothing_left();
}

#[test]
fn every_route_has_the_timeout() {
    let config = tollgate_envoy_harness::EnvoyConfig::new(([127, 0, 0, 1], 1).into())
        .route("/mapi/", "hcp")
        .route_timeout(Duration::from_secs(5))
        .render(0);
    let routes: Vec<&str> = config
        .lines()
        .filter(|l| l.contains("route: {cluster"))
        .collect();
    assert_eq!(routes.len(), 2, "{config}");
    assert!(
        routes.iter().all(|r| r.contains("timeout: 5s")),
        "{routes:?}"
    );
}
