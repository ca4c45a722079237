//! Faults and errors while running: which bound a recovery must meet after a fault fired,
//! whether a clean refusal is allowed, the poison probe after a write-path error, and the power
//! cycle the harness makes after any non-power-loss error.

use faultfs::FaultClass;

use super::{LENIENT, REFUSAL_OK, Runner};
use crate::case::CrashStep;
use crate::checker::{Violation, ViolationKind};
use crate::store::{Store, StoreError};

impl<S: Store> Runner<'_, S> {
    /// How many ReportLater faults fired so far (read from the log only while one is armed).
    pub(super) fn report_later_count(&mut self) -> usize {
        if !self.report_later_armed {
            return 0;
        }
        self.sim.with_events(|events| {
            events
                .iter()
                .filter(|e| e.fault == Some(FaultClass::FsyncReportLater))
                .count()
        })
    }

    /// Rule (a): a durability point during which a ReportLater fault fired made nothing durable.
    pub(super) fn sync_lied(&mut self, fired_before: usize) -> bool {
        if !self.report_later_armed {
            return false;
        }
        let fired = self.report_later_count();
        if fired >= self.report_later_injected {
            // Every ReportLater fault has fired: stop reading the log at each durability point.
            self.report_later_armed = false;
        }
        fired > fired_before
    }

    /// Handles a failed store call: a power cut reboots; damage may be a clean refusal; any
    /// other I/O error must poison the store, and the run power-cycles.
    pub(super) fn on_error(&mut self, err: StoreError, write_path: bool) {
        match err {
            StoreError::PowerLoss(_) => {
                let crash = self.armed.take().unwrap_or_else(|| self.cycle_crash());
                self.crash(crash, false);
            }
            StoreError::Damaged { ref file, .. } => {
                if self.refusal_allowed(file) {
                    self.counts.refusals += 1;
                    self.power_cycle();
                } else {
                    self.fail(unclean_refusal(&err));
                }
            }
            StoreError::Io(ref msg) | StoreError::Poisoned(ref msg) => {
                if !self.faults_armed {
                    let m = format!("the store failed with no fault armed: {msg}");
                    return self.fail(Violation::new(ViolationKind::UnexpectedError, m));
                }
                if write_path && matches!(err, StoreError::Io(_)) {
                    self.probe_poison(msg);
                }
                if !self.stopped {
                    self.power_cycle();
                }
            }
            StoreError::Other(msg) => {
                let m = format!("the store failed: {msg}");
                self.fail(Violation::new(ViolationKind::UnexpectedError, m));
            }
        }
    }

    /// After a write-path I/O error the store must refuse writes until reopened.
    pub(super) fn probe_poison(&mut self, cause: &str) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let probe = [crate::model::Mutation::Put {
            key: "~poison-probe".into(),
            value: "must be refused".into(),
        }];
        if store.write(&probe, false).is_ok() {
            let m = format!("after the I/O error ({cause}) the store accepted another write");
            self.fail(Violation::new(ViolationKind::PoisonIgnored, m));
        }
    }

    /// A crash for a power cycle forced by an error.
    pub(super) fn cycle_crash(&mut self) -> CrashStep {
        self.cycle_seed = self
            .cycle_seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        CrashStep {
            policy: self.cycle_policy,
            after_ops: None,
            seed: self.cycle_seed,
        }
    }

    pub(super) fn power_cycle(&mut self) {
        self.sim.power_off();
        let crash = self.cycle_crash();
        self.crash(crash, false);
    }

    /// The lower bound of an acceptable recovery: D, or 0 after damage that can pass for a torn
    /// tail or a sync that lied.
    pub(super) fn lower(&mut self) -> usize {
        self.refresh_fired();
        if self.lenient_damage || LENIENT.iter().any(|c| self.fired.contains(c)) {
            0
        } else {
            self.history.durable
        }
    }

    /// Reads newly logged events for faults that fired (only when faults are in play).
    pub(super) fn refresh_fired(&mut self) {
        if !self.faults_armed {
            return;
        }
        // Only the events logged since the last look are copied.
        let events = self.sim.events_since(self.events_read);
        self.events_read += events.len();
        for e in &events {
            let Some(c) = e.fault else { continue };
            self.counts.faults_fired += 1;
            // Aimed damage keeps the strict lower bound: it cannot pass for a torn tail.
            let aimed = matches!(&e.op, faultfs::EventOp::Damage { path, .. } if self.damaged_files.contains(path));
            if !aimed {
                self.fired.insert(c);
            }
        }
    }

    /// Whether a clean refusal naming `file` is allowed now.
    pub(super) fn refusal_allowed(&mut self, file: &std::path::Path) -> bool {
        self.refresh_fired();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let aimed = self
            .damaged_files
            .iter()
            .any(|p| p.ends_with(&name) && !name.is_empty());
        // Damage a torn tail could explain may have been cut away as one, taking later records
        // with it; the store then finds what those records would have told it (a file they
        // removed, say) and may refuse naming that file instead.
        aimed
            || self.lenient_damage
            || LENIENT
                .iter()
                .chain(REFUSAL_OK.iter())
                .any(|c| self.fired.contains(c))
    }
}

pub(super) fn unclean_refusal(err: &StoreError) -> Violation {
    Violation::new(
        ViolationKind::UncleanRefusal,
        format!("the store refused with no damage that could justify it: {err}"),
    )
}
