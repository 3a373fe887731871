//! Where the harness's processes keep their files, and whether they die with the
//! process that started them. Tests keep the defaults (the system's temp dir; children
//! stopped on drop). A long-running supervisor (the demo's main job) calls
//! [`bind_children_to_this_process`] and [`set_scratch_root`] first, so that even a
//! SIGKILL of the supervisor leaves no Envoy behind, and its files sit in one
//! directory it can have removed.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static BOUND: AtomicBool = AtomicBool::new(false);
static SCRATCH: Mutex<Option<PathBuf>> = Mutex::new(None);

/// From now on every child the harness starts runs in its own process group (a
/// terminal's Ctrl-C reaches only the supervisor, which stops children in order) and
/// gets SIGKILL when the thread that started it dies (`setpriv --pdeathsig`, from
/// util-linux): call it from the main thread, which lives as long as the process.
pub fn bind_children_to_this_process() {
    BOUND.store(true, Ordering::SeqCst);
}

/// The directory new scratch directories go under (default: the system temp dir).
pub fn set_scratch_root(root: PathBuf) {
    *SCRATCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(root);
}

/// A fresh path under the scratch root for `name` (not created).
pub fn scratch_dir(name: &str) -> PathBuf {
    SCRATCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(name)
}

/// A command for `program` that honours [`bind_children_to_this_process`].
pub fn command(program: impl Into<PathBuf>, signal_on_parent_death: &str) -> Command {
    let program = program.into();
    if !BOUND.load(Ordering::SeqCst) {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command
        .args(["--pdeathsig", signal_on_parent_death, "--"])
        .arg(program);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command
}
