//! Faults and errors while running: which bound a recovery must meet after a fault fired,
//! whether a clean refusal is allowed, the poison probe after a write-path error, and the power
//! cycle the harness makes after any non-power-loss error.

use faultfs::FaultClass;

use super::{DAMAGE_CLASSES, LENIENT, REFUSAL_OK, Runner};
use crate::case::CrashStep;
use crate::checker::{Violation, ViolationKind};
use crate::run::RecoveryResult;
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

    /// Looks at the errors injected faults returned since event `from`, during a store call that
    /// returned Ok anyway. A failed fsync acknowledged is a violation: the pages it failed to
    /// write may never reach the disk, whatever a retry says (fsyncgate; DESIGN section 3: the
    /// store never retries an fsync). An absorbed read or write error is a finding. Returns
    /// whether the run stopped.
    pub(super) fn swallowed_since(&mut self, from: usize) -> bool {
        if !self.faults_armed {
            return false;
        }
        let swallowed: Vec<faultfs::Event> = self.sim.with_events(|events| {
            events[from.min(events.len())..]
                .iter()
                .filter(|e| e.fault.is_some() && !e.result.starts_with("ok"))
                .cloned()
                .collect()
        });
        for e in &swallowed {
            let line = crate::report::Report::event_line(e);
            if matches!(
                e.op,
                faultfs::EventOp::Sync { .. } | faultfs::EventOp::SyncDir { .. }
            ) {
                let m = format!(
                    "an fsync failed ({line}) and the store acknowledged the call anyway: the \
                     pages that failed to reach the disk may be lost for good, and a retried \
                     fsync cannot vouch for them"
                );
                self.fail(Violation::new(ViolationKind::SwallowedFsyncError, m));
                return true;
            }
            self.counts.swallowed += 1;
            self.findings.push(format!(
                "the store absorbed an injected error and succeeded: {line}"
            ));
        }
        false
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
        if self.lenient_now() {
            0
        } else {
            self.hist().durable
        }
    }

    /// Whether the store declares damage unchecked and damage struck since the last reboot:
    /// then nothing it recovers is judged.
    pub(super) fn unchecked_damage(&mut self) -> bool {
        if self.assumptions.damage != crate::store::DamageRule::Unchecked {
            return false;
        }
        self.refresh_fired();
        !self.damaged_files.is_empty()
            || DAMAGE_CLASSES.iter().any(|c| self.fired.contains(c))
            || self.damage_struck
    }

    /// Ends the run after damage a store does not check: what it did is a finding.
    pub(super) fn leave_unjudged(&mut self, detail: String) {
        self.counts.unchecked += 1;
        self.findings.push(format!(
            "after media damage (unchecked by the store): {detail}"
        ));
        self.set_result(RecoveryResult::Unchecked { detail });
        self.stopped = true;
    }

    /// Whether a fault fired (or damage landed) after which any prefix of the whole history is
    /// an allowed recovery: it can look exactly like a torn tail.
    pub(super) fn lenient_now(&mut self) -> bool {
        self.refresh_fired();
        self.lenient_damage || LENIENT.iter().any(|c| self.fired.contains(c))
    }

    /// Reads newly logged events for faults that fired (only when faults are in play).
    pub(super) fn refresh_fired(&mut self) {
        if !self.faults_armed {
            return;
        }
        // Only the events logged since the last look are read, in place (copying them cost a
        // seeded run with faults more than 5%).
        let from = self.events_read;
        let (counts, damage_struck, damaged_files, fired) = (
            &mut self.counts,
            &mut self.damage_struck,
            &self.damaged_files,
            &mut self.fired,
        );
        self.events_read = self.sim.with_events(|events| {
            for e in events.get(from..).unwrap_or_default() {
                let Some(c) = e.fault else { continue };
                counts.faults_fired += 1;
                *damage_struck |= DAMAGE_CLASSES.contains(&c);
                // Aimed damage keeps the strict lower bound: it cannot pass for a torn tail.
                let aimed = matches!(&e.op, faultfs::EventOp::Damage { path, .. } if damaged_files.contains(path.as_str()));
                if !aimed {
                    fired.insert(c);
                }
            }
            events.len().max(from)
        });
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
            || self.unchecked_damage()
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
