//! Scenario files: a case written down as JSON (format in `scenarios/README.md`).
//!
//! Parsing is strict: unknown fields are errors, and every error names the file and the field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::case::{Case, Step};
use crate::checker::ViolationKind;
use crate::run::{RunOutcome, execute};
use crate::store::{DiskAssumptions, Store, config_from_json};
use crate::swarm::RunConfig;
use crate::workload::WorkloadParams;

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
    /// The store it runs on (absent: whichever store runs it). A store refuses a scenario
    /// written for another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// The store's configuration: any of its fields (the rest take the store's defaults). With a
    /// `workload`, these fields are fixed over what the seed draws. (`options` is the old name.)
    #[serde(default, alias = "options", skip_serializing_if = "is_empty_config")]
    pub config: serde_json::Value,
    /// Named store defects to switch on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bugs: Vec<String>,
    /// Disk assumptions over the store's own declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumptions: Option<DiskAssumptions>,
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

fn is_empty_config(v: &serde_json::Value) -> bool {
    v.is_null() || v.as_object().is_some_and(|o| o.is_empty())
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
        if !self.config.is_null() && !self.config.is_object() {
            return Err(invalid(
                "config",
                "must be an object of configuration fields",
            ));
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

    /// The case the scenario runs on store `S`; `path` only names the file in errors. Fails
    /// when the scenario names another store, or a configuration or defect `S` rejects.
    pub fn to_case<S: Store>(&self, path: &Path) -> Result<Case, ScenarioError> {
        let invalid = |field: &str, message: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            field: field.to_string(),
            message,
        };
        if let Some(name) = &self.store
            && name != S::name()
        {
            return Err(invalid(
                "store",
                format!("written for the {name:?} store; this is {:?}", S::name()),
            ));
        }
        let mut config = config_from_json::<S>(&self.config).map_err(|m| invalid("config", m))?;
        for (i, b) in self.bugs.iter().enumerate() {
            S::enable_defect(&mut config, b).map_err(|m| invalid(&format!("bugs[{i}]"), m))?;
        }
        match (&self.steps, &self.workload) {
            (_, Some(w)) => {
                let opts = crate::swarm::RunOptions {
                    policy: w.policy,
                    faults: w.faults.clone(),
                    bugs: self.bugs.clone(),
                    config: (!is_empty_config(&self.config)).then(|| self.config.clone()),
                    assumptions: self.assumptions,
                    ops: w.params.ops,
                    workload: Some(w.params.clone()),
                    ..crate::swarm::RunOptions::default()
                };
                RunConfig::from_seed::<S>(w.seed, &opts)
                    .map(|c| c.case())
                    .map_err(|m| invalid("workload", m))
            }
            (steps, None) => Ok(Case {
                store: S::name().to_string(),
                config: crate::store::config_to_json::<S>(&config),
                bugs: self.bugs.clone(),
                assumptions: self.assumptions,
                sim_seed: self.sim_seed,
                steps: steps.clone().unwrap_or_default(),
            }),
        }
    }

    /// A scenario that spells out a case step by step.
    pub fn from_case(name: &str, description: &str, case: &Case) -> Scenario {
        Scenario {
            name: name.to_string(),
            description: description.to_string(),
            store: Some(case.store.clone()),
            config: case.config.clone(),
            bugs: case.bugs.clone(),
            assumptions: case.assumptions,
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

/// Runs a scenario on store `S`. Whether it passed depends on `expect_violation`: see
/// [`scenario_passed`].
pub fn run_scenario<S: Store>(scenario: &Scenario) -> Result<RunOutcome, ScenarioError> {
    let path = Path::new(&scenario.name);
    let case = scenario.to_case::<S>(path)?;
    execute::<S>(&case).map_err(|message| ScenarioError::Invalid {
        path: path.to_path_buf(),
        field: "config".into(),
        message,
    })
}

/// Tells whether a scenario's outcome is what the file expects: no violation, or the expected
/// kind.
pub fn scenario_passed(scenario: &Scenario, outcome: &RunOutcome) -> bool {
    match scenario.expect_violation {
        None => outcome.passed(),
        Some(kind) => outcome.violations.iter().any(|v| v.kind == kind),
    }
}

#[cfg(feature = "engine")]
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
        let case = s
            .to_case::<crate::stores::EngineStore>(Path::new("t.json"))
            .unwrap();
        assert_eq!(case.config["wal"], false);
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
        type E = crate::stores::EngineStore;
        let case = RunConfig::from_seed::<E>(3, &crate::swarm::RunOptions::default())
            .unwrap()
            .case();
        let s = Scenario::from_case("n", "d", &case);
        let back = parse(&s.to_json()).unwrap();
        assert_eq!(back.to_case::<E>(Path::new("t.json")).unwrap(), case);
    }

    #[test]
    fn a_scenario_for_another_store_or_with_a_bad_config_is_refused_by_field() {
        let s = parse(r#"{"name":"x","description":"d","store":"careless","steps":[]}"#).unwrap();
        let err = s
            .to_case::<crate::stores::EngineStore>(Path::new("t.json"))
            .unwrap_err();
        assert!(err.to_string().contains("field `store`"), "{err}");
        let s = parse(r#"{"name":"x","description":"d","config":{"memtabel_bytes":1},"steps":[]}"#)
            .unwrap();
        let err = s
            .to_case::<crate::stores::EngineStore>(Path::new("t.json"))
            .unwrap_err();
        assert!(err.to_string().contains("memtabel_bytes"), "{err}");
    }
}
