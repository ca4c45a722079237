//! The event log: how operations are written down, and the digest that replays compare.

use std::fmt;
use std::io;

use xxhash_rust::xxh3::Xxh3;

use super::{CrashPolicy, Event, EventOp};

impl fmt::Display for CrashPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrashPolicy::Strict => f.write_str("strict"),
            CrashPolicy::KeepAll => f.write_str("keep_all"),
            CrashPolicy::Torn { sector } => write!(f, "torn(sector={sector})"),
            CrashPolicy::Reorder { sector } => write!(f, "reorder(sector={sector})"),
        }
    }
}

impl fmt::Display for EventOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventOp::Create { path } => write!(f, "create {path}"),
            EventOp::Open { path } => write!(f, "open {path}"),
            EventOp::Read { path, offset, len } => write!(f, "read {path} @{offset} +{len}"),
            EventOp::Write { path, offset, len } => write!(f, "write {path} @{offset} +{len}"),
            EventOp::SetLen { path, len } => write!(f, "set_len {path} {len}"),
            EventOp::Sync { path } => write!(f, "sync {path}"),
            EventOp::Rename { from, to } => write!(f, "rename {from} -> {to}"),
            EventOp::Remove { path } => write!(f, "remove {path}"),
            EventOp::List { path } => write!(f, "list {path}"),
            EventOp::CreateDir { path } => write!(f, "create_dir_all {path}"),
            EventOp::SyncDir { path } => write!(f, "sync_dir {path}"),
            EventOp::Exists { path } => write!(f, "exists {path}"),
            EventOp::Lock { path } => write!(f, "lock {path}"),
            EventOp::PowerOff => f.write_str("power_off"),
            EventOp::Reboot {
                policy,
                seed,
                outcome,
            } => write!(f, "reboot {policy} seed={seed} [{}]", outcome.join("; ")),
            EventOp::Damage { path, offset, what } => write!(f, "damage {path} @{offset}: {what}"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} [{}] {} -> {}",
            self.index, self.phase, self.op, self.result
        )?;
        if let Some(fault) = self.fault {
            write!(f, " (fault: {fault:?})")?;
        }
        Ok(())
    }
}

/// The digest of a log: xxh3 over each event's display line, which names every field.
pub(crate) fn trace_hash(events: &[Event]) -> u64 {
    let mut h = Xxh3::new();
    for event in events {
        let line = event.to_string();
        h.update(&(line.len() as u64).to_le_bytes());
        h.update(line.as_bytes());
    }
    h.digest()
}

/// The result column of an event: `ok`, `power_loss`, an errno name, or the error kind.
pub(crate) fn result_name<T>(result: &io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) if crate::is_power_loss(e) => "power_loss".to_string(),
        Err(e) => match crate::os_error_code(e) {
            Some(libc::EIO) => "EIO".to_string(),
            Some(libc::ENOSPC) => "ENOSPC".to_string(),
            Some(code) => format!("errno {code}"),
            None => format!("{:?}", e.kind()),
        },
    }
}
