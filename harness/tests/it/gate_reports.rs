//! The gate's reports: independent of the thread count, valid against the documented JSON
//! Schema, and JUnit XML that a JUnit parser accepts.

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use serde_json::Value;

use crate::gate_support::{gate, gate_report, without_timing};

#[test]
fn the_report_does_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--seeds", "400", "--seed-start", "1000", "--no-regressions"];
    let mut one = args.to_vec();
    one.extend_from_slice(&["--threads", "1"]);
    let mut three = args.to_vec();
    three.extend_from_slice(&["--threads", "3"]);
    let (_, a) = gate_report(dir.path(), "one", &one);
    let (_, b) = gate_report(dir.path(), "three", &three);
    assert_eq!(a["timing"]["threads"], 1);
    assert_eq!(b["timing"]["threads"], 3);
    assert_eq!(without_timing(a), without_timing(b));
}

#[test]
fn failures_and_the_cutoff_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--store",
        "careless",
        "--seeds",
        "300",
        "--max-violations",
        "4",
        "--shrink-runs",
        "30",
        "--no-regressions",
    ];
    let mut one = args.to_vec();
    one.extend_from_slice(&["--threads", "1"]);
    let mut four = args.to_vec();
    four.extend_from_slice(&["--threads", "4"]);
    let (_, a) = gate_report(dir.path(), "one", &one);
    let (_, b) = gate_report(dir.path(), "four", &four);
    assert_eq!(a["violations"].as_array().unwrap().len(), 4);
    assert_eq!(without_timing(a), without_timing(b));
}

#[test]
fn shards_split_one_sweep_without_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (_, whole) = gate_report(dir.path(), "whole", &["--seeds", "40", "--no-regressions"]);
    let (_, s1) = gate_report(
        dir.path(),
        "s1",
        &["--seeds", "20", "--shard", "1/2", "--no-regressions"],
    );
    let (_, s2) = gate_report(
        dir.path(),
        "s2",
        &["--seeds", "20", "--shard", "2/2", "--no-regressions"],
    );
    assert_eq!(s1["seeds"]["first"], 0);
    assert_eq!(s2["seeds"]["first"], 1);
    assert_eq!(s2["seeds"]["last"], 39);
    let crash_points = |r: &Value| r["totals"]["crash_points"].as_u64().unwrap();
    assert_eq!(crash_points(&s1) + crash_points(&s2), crash_points(&whole));
}

/// A validator for the subset of JSON Schema the report schema uses: `type` (one or a list),
/// `enum`, `minimum`, `properties`, `required`, `additionalProperties: false`, `items` and
/// `$ref` to `#/$defs/...`.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return validate(root, &root["$defs"][name], v, at, errors);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: {v} is not of type {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {allowed:?}"));
    }
    if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < min
    {
        errors.push(format!("{at}: {x} is below {min}"));
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = req.as_str().unwrap_or_default();
            if !obj.contains_key(name) {
                errors.push(format!("{at}: missing {name}"));
            }
        }
        for (k, child) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(root, s, child, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected field {k}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, child) in arr.iter().enumerate() {
            validate(root, items, child, &format!("{at}[{i}]"), errors);
        }
    }
}

fn schema() -> Value {
    serde_json::from_str(powercut::gate::report::SCHEMA_JSON).unwrap()
}

fn check(report: &Value) -> Vec<String> {
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, report, "$", &mut errors);
    errors
}

#[test]
fn passing_and_failing_reports_validate_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (_, pass) = gate_report(dir.path(), "pass", &["--seeds", "100", "--no-regressions"]);
    let (_, fail) = gate_report(
        dir.path(),
        "fail",
        &[
            "--store",
            "careless",
            "--seeds",
            "100",
            "--no-regressions",
            "--max-violations",
            "2",
        ],
    );
    assert_eq!(check(&pass), Vec::<String>::new());
    assert_eq!(check(&fail), Vec::<String>::new());
    assert!(!fail["violations"].as_array().unwrap().is_empty());
    // Any store's name, and the disk assumptions a run fixed, are in the report too.
    let (_, other) = gate_report(
        dir.path(),
        "other",
        &[
            "--store",
            "buffered",
            "--seeds",
            "48",
            "--no-regressions",
            "--atomic-sectors",
            "true",
            "--damage-rule",
            "rollback",
        ],
    );
    assert_eq!(check(&other), Vec::<String>::new());
    assert_eq!(other["config"]["store"], "buffered");
    assert_eq!(other["config"]["assumptions"]["atomic_sectors"], true);
    assert_eq!(other["config"]["assumptions"]["damage"], "rollback");
}

#[test]
fn the_validator_rejects_a_report_that_breaks_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut report) = gate_report(dir.path(), "pass", &["--seeds", "10", "--no-regressions"]);
    report["surprise"] = Value::Bool(true);
    report["seeds"]["run"] = Value::String("ten".into());
    report["coverage"]["cells"][0]["phase"] = Value::String("lunch".into());
    let errors = check(&report);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn the_schema_is_printed_by_the_cli() {
    assert_eq!(gate(&["--print-schema"]), 0);
}

struct JUnit {
    suites: usize,
    cases: usize,
    failures: usize,
    declared_tests: usize,
    declared_failures: usize,
    failure_texts: Vec<String>,
}

fn parse_junit(xml: &str) -> JUnit {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut j = JUnit {
        suites: 0,
        cases: 0,
        failures: 0,
        declared_tests: 0,
        declared_failures: 0,
        failure_texts: Vec::new(),
    };
    let mut in_failure = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| {
                    e.try_get_attribute(name).unwrap().map(|a| {
                        a.normalized_value(XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned()
                    })
                };
                match e.name().as_ref() {
                    "testsuite" => {
                        j.suites += 1;
                        j.declared_tests = attr("tests").unwrap().parse().unwrap();
                        j.declared_failures = attr("failures").unwrap().parse().unwrap();
                    }
                    "testcase" => {
                        j.cases += 1;
                        assert!(attr("classname").is_some() && attr("name").is_some());
                    }
                    "failure" => {
                        j.failures += 1;
                        in_failure = true;
                        j.failure_texts.push(attr("message").unwrap());
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_failure => {
                let text = t.to_string();
                if let Some(last) = j.failure_texts.last_mut() {
                    last.push('\n');
                    last.push_str(&text);
                }
            }
            Event::End(e) if e.name().as_ref() == "failure" => in_failure = false,
            Event::Eof => break,
            _ => {}
        }
    }
    j
}

#[test]
fn the_junit_file_parses_with_one_testcase_per_combination_and_failures_that_say_how_to_replay() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("gate.xml");
    let xml = xml_path.to_str().unwrap();
    assert_eq!(
        gate(&["--seeds", "96", "--no-regressions", "--junit", xml]),
        0
    );
    let pass = parse_junit(&std::fs::read_to_string(&xml_path).unwrap());
    assert_eq!(pass.suites, 1);
    assert_eq!(
        pass.cases,
        48 + 1,
        "48 policy x fault combinations and coverage"
    );
    assert_eq!(pass.failures, 0);
    assert_eq!(pass.declared_tests, pass.cases);

    assert_eq!(
        gate(&[
            "--store",
            "careless",
            "--seeds",
            "96",
            "--no-regressions",
            "--junit",
            xml
        ]),
        1
    );
    let fail = parse_junit(&std::fs::read_to_string(&xml_path).unwrap());
    assert_eq!(fail.failures, 1);
    assert_eq!(fail.declared_failures, 1);
    assert!(
        fail.failure_texts[0].contains("replay: powercut replay --store careless --seed"),
        "{}",
        fail.failure_texts[0]
    );
}
