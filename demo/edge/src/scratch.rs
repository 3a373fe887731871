//! One scratch directory for everything the main job writes (Envoy's config and log,
//! the S3 objects), and a reaper that removes it even if the main job is killed with
//! SIGKILL: a child of ours, in its own process group, that the kernel sends SIGTERM
//! when we die (`setpriv --pdeathsig`), and which then deletes the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// Every scratch directory is named so; the reaper refuses to delete anything else.
const PREFIX: &str = "tollgate-demo-";

pub struct Scratch {
    dir: PathBuf,
    reaper: Option<Child>,
}

impl Scratch {
    /// Creates `$TMPDIR/tollgate-demo-<pid>` and starts its reaper.
    pub fn create() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let me = std::env::current_exe().context("finding this program")?;
        let mut reaper = Command::new("setpriv");
        reaper
            .args(["--pdeathsig", "TERM", "--"])
            .arg(me)
            .arg("reap")
            .arg(&dir)
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut reaper, 0);
        let reaper = reaper
            .spawn()
            .context("starting the scratch reaper (setpriv, util-linux)")?;
        Ok(Self {
            dir,
            reaper: Some(reaper),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut reaper) = self.reaper.take() {
            let _ = reaper.kill();
            let _ = reaper.wait();
        }
    }
}

/// `tollgate-demo reap DIR`: waits for a stop signal (the parent's death, through
/// pdeathsig), then deletes `dir`.
pub fn reap(dir: &Path) -> Result<()> {
    let named = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(PREFIX));
    if !named {
        bail!(
            "refusing to reap {}: not a main-job scratch directory",
            dir.display()
        );
    }
    let signals = crate::signals::Signals::install()?;
    let parent = std::os::unix::process::parent_id();
    // Until a signal comes (pdeathsig), or we find ourselves re-parented: the parent
    // died before pdeathsig was armed. Each round waits a second.
    while signals.wait(std::time::Duration::from_secs(1)).is_none()
        && std::os::unix::process::parent_id() == parent
    {}
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
