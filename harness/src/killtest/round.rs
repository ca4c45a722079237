//! One round seen from the parent: spawn the child, listen, kill it at the drawn moment, reap
//! it, and turn its event lines back into the model's history.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use faultfs::Phase;

use crate::killtest::child::ChildArgs;
use crate::killtest::protocol::ChildEvent;
use crate::killtest::workload::{KillOp, RoundWorkload};
use crate::model::{History, Outcome};

/// How long a child may take to start before the round is given up as broken.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// At most this much of a child's stderr is kept for a report.
const STDERR_BYTES_MAX: u64 = 16 << 10;

/// What the parent saw of one child.
#[derive(Debug)]
pub struct ChildRun {
    /// Every line the child wrote, in order.
    pub lines: Vec<String>,
    /// Whether the child reported its start in time (if not, it is not a kill-test child).
    pub started: bool,
    /// How long the child took from its start to an open store (when that was before the kill).
    pub open_time: Option<Duration>,
    /// Whether the child died of the parent's SIGKILL (not on its own before it).
    pub killed: bool,
    pub status: ExitStatus,
    pub stderr: String,
}

/// When the parent kills a round's child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KillTiming {
    pub delay: Duration,
    /// The delay counts from the child's open store (`false`: from its start, so the kill may
    /// land in recovery).
    pub from_open: bool,
    /// Kill as soon as the child has reported this many events after opening the store, instead
    /// of after `delay`: where the kill lands in the workload then depends on the seed alone,
    /// not on how fast the machine is (the child runs on for the microseconds the signal takes).
    pub after_events: Option<u32>,
}

/// Spawns `exe kill-test-child ...`, kills it at `timing`, and reaps it.
pub fn run_child_process(
    exe: &Path,
    args: &ChildArgs,
    timing: KillTiming,
) -> std::io::Result<ChildRun> {
    let mut child = Command::new(exe)
        .args(args.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no child stdout"))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| std::io::Error::other("no child stderr"))?;
    // The pipe holds only 64 KiB: a reader thread keeps it drained so the child never blocks on
    // a full pipe, which would shift where the kill lands.
    let (tx, rx) = mpsc::channel::<String>();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.take(STDERR_BYTES_MAX).read_to_string(&mut text);
        text
    });
    let mut lines = Vec::new();
    // The delay counts from the child's first line, so process start-up does not eat it.
    let started = match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(line) => {
            lines.push(line);
            true
        }
        Err(_) => false,
    };
    let mut open_time = None;
    if started {
        let start = Instant::now();
        let mut deadline = (!timing.from_open).then(|| start + timing.delay);
        loop {
            // Before the open, a kill timed from it waits as long as a start may take.
            let left = deadline.map_or(STARTUP_TIMEOUT, |d| {
                d.saturating_duration_since(Instant::now())
            });
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if line == "o" {
                        open_time = Some(start.elapsed());
                        if timing.after_events.is_none() {
                            deadline = deadline.or_else(|| Some(Instant::now() + timing.delay));
                        }
                    }
                    lines.push(line);
                    if let Some(n) = timing.after_events {
                        // Counted from the open store, or from the start when the kill may land
                        // in recovery.
                        let counted = if timing.from_open {
                            open_time
                                .map_or(0, |_| lines.iter().rev().take_while(|l| *l != "o").count())
                        } else {
                            lines.len()
                        };
                        if counted >= n as usize {
                            break;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    // Fails only if the child is already gone, which `status` tells anyway.
    let _ = child.kill();
    let status = child.wait()?;
    lines.extend(rx.iter());
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(ChildRun {
        lines,
        started,
        open_time,
        killed: killed_by_sigkill(&status),
        status,
        stderr,
    })
}

fn killed_by_sigkill(status: &ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGKILL)
}

/// The model's view of a round after replaying the child's lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundTally {
    /// Writes (since the last accepted recovery) acknowledged: the last acked one's position + 1.
    pub acked: usize,
    /// Writes made durable by a durability point that returned.
    pub durable: usize,
    /// The last phase label the child reported.
    pub phase: Option<Phase>,
    /// Whether the child finished opening the store.
    pub opened: bool,
    /// A violation the child saw itself.
    pub child_violation: Option<String>,
    /// An error the child's store returned.
    pub child_error: Option<String>,
    /// A line the parent could not make sense of.
    pub protocol_error: Option<String>,
}

impl RoundTally {
    /// Where the kill landed: the phase label, `startup` if the child had not yet labelled one.
    pub fn kill_phase(&self) -> &'static str {
        self.phase.map_or("startup", Phase::name)
    }
}

/// Replays the child's lines into `history`, drawing the writes from the round's workload.
pub fn apply_lines(
    history: &mut History,
    workload: &mut RoundWorkload,
    lines: &[String],
) -> RoundTally {
    let mut tally = RoundTally::default();
    let first_id = history.next_id - history.issued() as u64;
    for line in lines {
        let event = match ChildEvent::decode(line) {
            Ok(e) => e,
            Err(e) => {
                tally.protocol_error.get_or_insert(e);
                continue;
            }
        };
        match event {
            ChildEvent::Started => {}
            ChildEvent::Opened => tally.opened = true,
            ChildEvent::Phase(p) => tally.phase = Some(p),
            ChildEvent::Issued(id) => {
                if let Err(e) = issue(history, workload, id) {
                    tally.protocol_error.get_or_insert(e);
                }
            }
            ChildEvent::Acked(id) => {
                let pos = id.saturating_sub(first_id) as usize;
                history.settle(pos, Outcome::Acked);
                tally.acked = tally.acked.max((pos + 1).min(history.issued()));
            }
            ChildEvent::Durable(n) => {
                let upto = (n.saturating_sub(first_id) as usize).min(history.issued());
                tally.durable = tally.durable.max(upto);
                history.durable = history.durable.max(upto);
            }
            ChildEvent::Violation(t) => {
                tally.child_violation.get_or_insert(t);
            }
            ChildEvent::Error(t) => {
                tally.child_error.get_or_insert(t);
            }
        }
    }
    tally
}

/// Records write `id` in the history, taking its mutations from the workload.
fn issue(history: &mut History, workload: &mut RoundWorkload, id: u64) -> Result<(), String> {
    if id != history.next_id {
        return Err(format!(
            "the child issued write {id}, the parent expected write {}",
            history.next_id
        ));
    }
    loop {
        if let KillOp::Write {
            id: drawn,
            mutations,
            sync,
        } = workload.next_op()
        {
            if drawn != id {
                return Err(format!(
                    "the child issued write {id}, the round's workload drew write {drawn}"
                ));
            }
            history.issue(mutations, sync);
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first `n` writes of a round, as the child would report them.
    fn writes(seed: u64, first_id: u64, n: usize) -> Vec<u64> {
        let mut w = RoundWorkload::new(seed, first_id);
        let mut ids = Vec::new();
        while ids.len() < n {
            if let KillOp::Write { id, .. } = w.next_op() {
                ids.push(id);
            }
        }
        ids
    }

    #[test]
    fn the_childs_lines_rebuild_the_round_in_the_history() {
        let mut history = History::new();
        let ids = writes(5, 0, 3);
        let lines: Vec<String> = [
            "s".to_string(),
            "p recovery".to_string(),
            "o".to_string(),
            "p write".to_string(),
            format!("i {}", ids[0]),
            format!("a {}", ids[0]),
            format!("d {}", ids[0] + 1),
            format!("i {}", ids[1]),
            format!("a {}", ids[1]),
            format!("i {}", ids[2]),
            "p flush".to_string(),
        ]
        .into();
        let tally = apply_lines(&mut history, &mut RoundWorkload::new(5, 0), &lines);
        assert_eq!(history.issued(), 3);
        assert_eq!(tally.acked, 2);
        assert_eq!(tally.durable, 1);
        assert_eq!(history.durable, 1);
        assert_eq!(history.writes[2].outcome, Outcome::InFlight);
        assert!(tally.opened);
        assert_eq!(tally.kill_phase(), "flush");
        assert_eq!(tally.protocol_error, None);
    }

    #[test]
    fn a_write_the_workload_did_not_draw_is_a_protocol_error() {
        let mut history = History::new();
        history.next_id = 10;
        let lines = vec!["s".to_string(), "i 11".to_string()];
        let tally = apply_lines(&mut history, &mut RoundWorkload::new(5, 10), &lines);
        assert_eq!(tally.kill_phase(), "startup");
        let err = tally.protocol_error.expect("a skipped id is refused");
        assert!(err.contains("expected write 10"), "{err}");
    }
}
