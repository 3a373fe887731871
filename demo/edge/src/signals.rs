//! Stop signals, caught from the first moment: installed before any child starts, so a
//! Ctrl-C during start-up still stops everything in order. SIGHUP (a closed terminal)
//! stops like SIGTERM and SIGINT.

use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::signal::unix::{SignalKind, signal};

/// A stop signal that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
    Hangup,
}

impl Stop {
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
            Self::Hangup => "SIGHUP",
        }
    }

    /// The shell's exit code for death by this signal (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Hangup => 129,
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }
}

pub struct Signals {
    stops: Receiver<Stop>,
    _listener: std::thread::JoinHandle<()>,
}

impl Signals {
    /// Installs the handlers before returning; from then on the three signals are
    /// delivered here instead of killing the process.
    pub fn install() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .context("the signal runtime")?;
        let (mut int, mut term, mut hup) = runtime.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
                signal(SignalKind::hangup())?,
            ))
        })?;
        let (tx, stops) = channel();
        let listener = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // One message per signal; it ends when the receiver is gone.
                    loop {
                        let stop = tokio::select! {
                            _ = int.recv() => Stop::Interrupt,
                            _ = term.recv() => Stop::Terminate,
                            _ = hup.recv() => Stop::Hangup,
                        };
                        if tx.send(stop).is_err() {
                            break;
                        }
                    }
                });
            })
            .context("the signal thread")?;
        Ok(Self {
            stops,
            _listener: listener,
        })
    }

    /// A signal that already arrived, without waiting.
    pub fn pending(&self) -> Option<Stop> {
        self.stops.try_recv().ok()
    }

    /// Waits up to `timeout` for a signal.
    pub fn wait(&self, timeout: Duration) -> Option<Stop> {
        self.stops.recv_timeout(timeout).ok()
    }
}
