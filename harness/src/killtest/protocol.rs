//! The child's report to the parent: one short text line per event on the child's stdout.
//!
//! ```text
//! s                 started, about to open the store
//! o                 the store is open (recovery done)
//! p <phase>         the engine labelled a new phase (write, flush, compaction, rollover, recovery)
//! i <id>            write <id> is about to be handed to the store
//! a <id>            write <id> was acknowledged (the call returned Ok)
//! d <n>             a durability point returned Ok: every write with an id below <n> is durable
//! v <text>          the child saw a contract violation while running (a read that missed a write)
//! e <text>          the store returned an error; the child stops
//! ```
//!
//! Each line is written with one `write` call and flushed before the child goes on, so once the
//! child has done what a line announces, the line is in the kernel's pipe buffer and survives
//! the SIGKILL. An `i` line is written before the store call starts, so the parent never misses a
//! write that may have reached the file; an `a` line is written after the call returns, so a kill
//! between the two only makes the parent's lower bound more cautious.

use std::io::Write;

use faultfs::Phase;

/// One event of the child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildEvent {
    Started,
    Opened,
    Phase(Phase),
    Issued(u64),
    Acked(u64),
    Durable(u64),
    Violation(String),
    Error(String),
}

impl ChildEvent {
    /// The line for this event, without its newline. Texts are cut at the first newline so one
    /// event stays one line.
    pub fn encode(&self) -> String {
        let one_line = |t: &str| t.lines().next().unwrap_or_default().to_string();
        match self {
            ChildEvent::Started => "s".to_string(),
            ChildEvent::Opened => "o".to_string(),
            ChildEvent::Phase(p) => format!("p {}", p.name()),
            ChildEvent::Issued(id) => format!("i {id}"),
            ChildEvent::Acked(id) => format!("a {id}"),
            ChildEvent::Durable(n) => format!("d {n}"),
            ChildEvent::Violation(t) => format!("v {}", one_line(t)),
            ChildEvent::Error(t) => format!("e {}", one_line(t)),
        }
    }

    /// Parses one line (without its newline), or says what is wrong with it.
    pub fn decode(line: &str) -> Result<ChildEvent, String> {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let number = || {
            rest.parse::<u64>()
                .map_err(|_| format!("child event {line:?}: {rest:?} is not a number"))
        };
        Ok(match tag {
            "s" => ChildEvent::Started,
            "o" => ChildEvent::Opened,
            "p" => ChildEvent::Phase(
                parse_phase(rest)
                    .ok_or_else(|| format!("child event {line:?}: unknown phase {rest:?}"))?,
            ),
            "i" => ChildEvent::Issued(number()?),
            "a" => ChildEvent::Acked(number()?),
            "d" => ChildEvent::Durable(number()?),
            "v" => ChildEvent::Violation(rest.to_string()),
            "e" => ChildEvent::Error(rest.to_string()),
            _ => return Err(format!("child event {line:?}: unknown tag {tag:?}")),
        })
    }
}

/// The phase with this name.
pub fn parse_phase(name: &str) -> Option<Phase> {
    Phase::ALL.into_iter().find(|p| p.name() == name)
}

/// Writes child events to stdout, one flushed line each; shared by the workload thread and the
/// engine's background threads (through the phase-reporting fs).
#[derive(Debug, Default)]
pub struct Reporter;

impl Reporter {
    /// Sends one event and tells whether the parent still listens. A parent that stopped
    /// listening means the round is over: the workload stops, background threads just go on.
    pub fn send(&self, event: &ChildEvent) -> bool {
        let mut line = event.encode();
        line.push('\n');
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes()).is_ok() && out.flush().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_survives_its_line() {
        let events = [
            ChildEvent::Started,
            ChildEvent::Opened,
            ChildEvent::Phase(Phase::Compaction),
            ChildEvent::Issued(7),
            ChildEvent::Acked(7),
            ChildEvent::Durable(8),
            ChildEvent::Violation("get k00001: expected w3. got None".into()),
            ChildEvent::Error("I/O error while appending".into()),
        ];
        for e in events {
            assert_eq!(ChildEvent::decode(&e.encode()), Ok(e));
        }
    }

    #[test]
    fn a_bad_line_is_refused_with_what_is_wrong() {
        let err = ChildEvent::decode("i x").expect_err("not a number");
        assert!(err.contains("not a number"), "{err}");
        assert!(ChildEvent::decode("z").is_err());
        assert!(ChildEvent::decode("p nap").is_err());
    }

    #[test]
    fn a_text_with_a_newline_stays_one_line() {
        let line = ChildEvent::Error("first\nsecond".into()).encode();
        assert_eq!(line, "e first");
    }
}
