//! Scenario files: a case written down as JSON (format in `scenarios/README.md`).
//!
//! Parsing is strict: unknown fields are errors, and every error names the file and the field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case::{Case, Step, StoreKind};
use crate::checker::ViolationKind;
use crate::run::{RunOutcome, execute};
use crate::swarm::RunConfig;
use crate::workload::WorkloadParams;

/// Engine options in a scenario: every field optional, the rest from `engine::Options::default()`
/// (background work is always inline in simulation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartialOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memtable_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_immutable_memtables: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sst_target_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bloom_bits_per_key: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_cache_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compaction: Option<engine::CompactionStyle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l0_compaction_trigger: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_size_ratio: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level1_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_rollover_bytes: Option<u64>,
}

impl PartialOptions {
    /// The full options: these fields over the engine defaults, background inline.
    pub fn resolve(&self) -> engine::Options {
        let d = engine::Options::default();
        engine::Options {
            memtable_bytes: self.memtable_bytes.unwrap_or(d.memtable_bytes),
            max_immutable_memtables: self
                .max_immutable_memtables
                .unwrap_or(d.max_immutable_memtables),
            block_bytes: self.block_bytes.unwrap_or(d.block_bytes),
            sst_target_bytes: self.sst_target_bytes.unwrap_or(d.sst_target_bytes),
            bloom_bits_per_key: self.bloom_bits_per_key.unwrap_or(d.bloom_bits_per_key),
            block_cache_bytes: self.block_cache_bytes.unwrap_or(d.block_cache_bytes),
            wal: self.wal.unwrap_or(d.wal),
            compaction: self.compaction.unwrap_or(d.compaction),
            l0_compaction_trigger: self
                .l0_compaction_trigger
                .unwrap_or(d.l0_compaction_trigger),
            level_size_ratio: self.level_size_ratio.unwrap_or(d.level_size_ratio),
            level1_bytes: self.level1_bytes.unwrap_or(d.level1_bytes),
            levels: self.levels.unwrap_or(d.levels),
            manifest_rollover_bytes: self
                .manifest_rollover_bytes
                .unwrap_or(d.manifest_rollover_bytes),
            background: engine::Background::Inline,
            ..d.clone()
        }
    }

    /// Every field spelled out (for writing a shrunk case back).
    pub fn full(o: &engine::Options) -> PartialOptions {
        PartialOptions {
            memtable_bytes: Some(o.memtable_bytes),
            max_immutable_memtables: Some(o.max_immutable_memtables),
            block_bytes: Some(o.block_bytes),
            sst_target_bytes: Some(o.sst_target_bytes),
            bloom_bits_per_key: Some(o.bloom_bits_per_key),
            block_cache_bytes: Some(o.block_cache_bytes),
            wal: Some(o.wal),
            compaction: Some(o.compaction),
            l0_compaction_trigger: Some(o.l0_compaction_trigger),
            level_size_ratio: Some(o.level_size_ratio),
            level1_bytes: Some(o.level1_bytes),
            levels: Some(o.levels),
            manifest_rollover_bytes: Some(o.manifest_rollover_bytes),
        }
    }
}

/// A generated workload instead of explicit steps: the seed decides the crash schedule and
/// faults too, exactly as `powercut replay --seed` would with these constraints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub seed: u64,
    /// The crash policy (drawn from the seed when absent).
    #[serde(default)]
    pub policy: Option<faultfs::CrashPolicy>,
    /// Fault classes the seed may draw from.
    #[serde(default)]
    pub faults: Vec<faultfs::FaultClass>,
    /// The workload's shape (defaults for missing fields).
    #[serde(default)]
    pub params: WorkloadParams,
}

/// A scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// Which bug class the scenario guards against, in a sentence or two.
    pub description: String,
    #[serde(default)]
    pub store: StoreKind,
    /// Engine options (missing fields take the engine defaults). With a `workload`, the options
    /// come from the seed and this must be empty.
    #[serde(default)]
    pub options: PartialOptions,
    /// Named engine defects to switch on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bugs: Vec<String>,
    /// Seeds the simulator's own choices (where a misdirected write lands).
    #[serde(default)]
    pub sim_seed: u64,
    /// Explicit steps (exactly one of `steps` and `workload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadSpec>,
    /// The scenario must fail with this violation (a canary, or a regression not yet fixed);
    /// absent: it must pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_violation: Option<ViolationKind>,
}

/// Why a scenario file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad JSON or a wrong field; `message` names the field, line and column.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// Well-formed JSON that does not make a runnable case.
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and validates scenario text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = serde_json::from_str(text).map_err(|e| ScenarioError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        scenario.validate(path)?;
        Ok(scenario)
    }

    fn validate(&self, path: &Path) -> Result<(), ScenarioError> {
        let invalid = |field: &str, message: &str| ScenarioError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            message: message.to_string(),
        };
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        for (i, b) in self.bugs.iter().enumerate() {
            crate::stores::engine::parse_bug(b).map_err(|m| invalid(&format!("bugs[{i}]"), &m))?;
        }
        if let Err(e) = self.options.resolve().validate() {
            return Err(invalid("options", &e.to_string()));
        }
        match (&self.steps, &self.workload) {
            (Some(_), Some(_)) => Err(invalid(
                "steps",
                "give either `steps` or `workload`, not both",
            )),
            (None, None) => Err(invalid("steps", "give `steps` or `workload`")),
            (Some(steps), None) => {
                validate_steps(steps).map_err(|(i, f, m)| invalid(&format!("steps[{i}].{f}"), &m))
            }
            (None, Some(w)) => {
                if self.options != PartialOptions::default() {
                    return Err(invalid(
                        "options",
                        "a `workload` scenario draws its options from the seed; leave `options` out",
                    ));
                }
                if w.params.value_max < w.params.value_min {
                    return Err(invalid("workload.params.value_max", "is below value_min"));
                }
                if w.params.keys == 0 {
                    return Err(invalid("workload.params.keys", "must be at least 1"));
                }
                Ok(())
            }
        }
    }

    /// The case the scenario runs.
    pub fn to_case(&self) -> Case {
        match (&self.steps, &self.workload) {
            (_, Some(w)) => {
                let opts = crate::run::RunOptions {
                    store: self.store,
                    policy: w.policy,
                    faults: w.faults.clone(),
                    bugs: self.bugs.clone(),
                    ops: w.params.ops,
                    workload: Some(w.params.clone()),
                    ..crate::run::RunOptions::default()
                };
                RunConfig::from_seed(w.seed, &opts).case()
            }
            (steps, None) => Case {
                store: self.store,
                options: self.options.resolve(),
                bugs: self.bugs.clone(),
                sim_seed: self.sim_seed,
                steps: steps.clone().unwrap_or_default(),
            },
        }
    }

    /// A scenario that spells out a case step by step.
    pub fn from_case(name: &str, description: &str, case: &Case) -> Scenario {
        Scenario {
            name: name.to_string(),
            description: description.to_string(),
            store: case.store,
            // The careless store has no options; spelling the engine's out would only be noise.
            options: match case.store {
                StoreKind::Engine => PartialOptions::full(&case.options),
                StoreKind::Careless => PartialOptions::default(),
            },
            bugs: case.bugs.clone(),
            sim_seed: case.sim_seed,
            steps: Some(case.steps.clone()),
            workload: None,
            expect_violation: None,
        }
    }

    /// The scenario as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Checks what serde cannot: returns (step index, field, message) of the first bad step.
fn validate_steps(steps: &[Step]) -> Result<(), (usize, &'static str, String)> {
    for (i, s) in steps.iter().enumerate() {
        match s {
            Step::Batch { ops, .. } if ops.is_empty() => {
                return Err((
                    i,
                    "batch.ops",
                    "a batch needs at least one operation".into(),
                ));
            }
            Step::Crash(c) => {
                if let faultfs::CrashPolicy::Torn { sector }
                | faultfs::CrashPolicy::Reorder { sector } = c.policy
                    && (sector == 0 || !sector.is_power_of_two())
                {
                    return Err((
                        i,
                        "crash.policy.sector",
                        format!("{sector} is not a power of two"),
                    ));
                }
            }
            Step::Scan {
                start: Some(a),
                end: Some(b),
            } if a > b => {
                return Err((i, "scan.start", format!("{a:?} is after end {b:?}")));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs a scenario. Whether it passed depends on `expect_violation`: see [`scenario_passed`].
pub fn run_scenario(scenario: &Scenario) -> RunOutcome {
    execute(&scenario.to_case())
}

/// Tells whether a scenario's outcome is what the file expects: no violation, or the expected
/// kind.
pub fn scenario_passed(scenario: &Scenario, outcome: &RunOutcome) -> bool {
    match scenario.expect_violation {
        None => outcome.passed(),
        Some(kind) => outcome.violations.iter().any(|v| v.kind == kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, Path::new("t.json"))
    }

    #[test]
    fn a_well_formed_scenario_parses() {
        let s = parse(
            r#"{"name":"x","description":"d","options":{"wal":false},
                "steps":[{"put":{"key":"a","value":"1","sync":true}},{"sync":{}},
                         {"crash":{"policy":{"kind":"strict"}}},{"expect":{"key":"a","value":"1"}}]}"#,
        )
        .unwrap();
        let case = s.to_case();
        assert!(!case.options.wal);
        assert_eq!(case.steps.len(), 4);
    }

    #[test]
    fn an_unknown_field_is_rejected_with_its_name() {
        let err = parse(r#"{"name":"x","description":"d","steps":[],"colour":1}"#).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        assert!(err.to_string().contains("t.json"), "{err}");
        let err =
            parse(r#"{"name":"x","description":"d","steps":[{"put":{"key":"a","valu":"1"}}]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("valu"), "{err}");
    }

    #[test]
    fn steps_and_workload_together_are_rejected() {
        let err = parse(r#"{"name":"x","description":"d","steps":[],"workload":{"seed":1}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("steps"), "{err}");
    }

    #[test]
    fn a_bad_step_is_named_by_its_index() {
        let err =
            parse(r#"{"name":"x","description":"d","steps":[{"sync":{}},{"batch":{"ops":[]}}]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("steps[1].batch.ops"), "{err}");
    }

    #[test]
    fn a_case_written_as_a_scenario_reads_back_the_same() {
        let case = RunConfig::from_seed(3, &crate::run::RunOptions::default()).case();
        let s = Scenario::from_case("n", "d", &case);
        let back = parse(&s.to_json()).unwrap();
        assert_eq!(back.to_case(), case);
    }
}
