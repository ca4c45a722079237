//! The gate's JUnit XML (`--junit PATH.xml`), for CI systems that show test results.
//!
//! One `<testsuite>` holds a `<testcase>` per regression scenario, one per (policy, fault slot)
//! combination of the sweep (failed when any of its seeds failed, with the first failure's
//! report and replay command), and one for coverage (failed when `--min-coverage` found an
//! expected cell unreached).

use std::fmt::Write as _;

use crate::gate::report::GateReport;

/// Escapes text for an XML attribute or element.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows only tab, newline and carriage return below space.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

struct Case {
    classname: String,
    name: String,
    /// (message, type, body) of a failure.
    failure: Option<(String, String, String)>,
}

fn cases(report: &GateReport) -> Vec<Case> {
    let mut cases = Vec::new();
    for r in &report.regressions {
        let failure = (!r.passed).then(|| {
            let msg = match (&r.expected_violation, &r.violation) {
                (Some(want), None) => format!("expected a {want} violation; the run passed"),
                (Some(want), Some(got)) => format!("expected a {want} violation, got {got}"),
                (None, Some(got)) => format!("{got} violation"),
                (None, None) => "failed".to_string(),
            };
            let body = format!("replay: powercut scenario {}", r.path);
            (msg, "regression".to_string(), body)
        });
        cases.push(Case {
            classname: "powercut.regressions".to_string(),
            name: r.path.clone(),
            failure,
        });
    }
    for c in &report.combinations {
        let first = report
            .violations
            .iter()
            .find(|v| v.policy == c.policy && v.fault == c.fault);
        let failure = (c.failed > 0).then(|| match first {
            Some(v) => (
                format!(
                    "{} of {} seeds failed; seed {}: {}: {}",
                    c.failed, c.seeds, v.seed, v.kind, v.message
                ),
                v.kind.clone(),
                format!("{}\nreplay: {}", v.report, v.replay),
            ),
            None => (
                format!("{} of {} seeds failed", c.failed, c.seeds),
                "violation".to_string(),
                String::new(),
            ),
        });
        cases.push(Case {
            classname: format!("powercut.sweep.{}", c.policy),
            name: format!("{} + {} ({} seeds)", c.policy, c.fault, c.seeds),
            failure,
        });
    }
    let cov = &report.coverage;
    // A sweep cut short by a violation is not judged on coverage: the violation is the news.
    let judged = report.config.min_coverage && report.seeds.failed == 0;
    let failure = (judged && !cov.missing.is_empty()).then(|| {
        let body: Vec<String> = cov
            .missing
            .iter()
            .map(|m| format!("{} x {} x {}", m.cause, m.file, m.phase))
            .collect();
        (
            format!(
                "{} of {} expected coverage cells not reached",
                cov.missing.len(),
                cov.expected
            ),
            "coverage".to_string(),
            body.join("\n"),
        )
    });
    cases.push(Case {
        classname: "powercut.coverage".to_string(),
        name: format!(
            "{} of {} expected cells",
            cov.expected_reached, cov.expected
        ),
        failure,
    });
    cases
}

/// The JUnit XML of a gate report.
pub fn render(report: &GateReport) -> String {
    let cases = cases(report);
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let time = report.timing.seconds;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"powercut\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"powercut gate\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time:.3}\">",
        cases.len()
    );
    let _ = writeln!(out, "    <properties>");
    for (name, value) in [
        ("store", report.config.store.clone()),
        ("seed_start", report.config.seed_start.to_string()),
        ("seeds_run", report.seeds.run.to_string()),
        ("digest", report.seeds.digest.clone()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            esc(&value)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for c in &cases {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            esc(&c.classname),
            esc(&c.name)
        );
        match &c.failure {
            None => {
                let _ = writeln!(out, "{open}/>");
            }
            Some((message, kind, body)) => {
                let _ = writeln!(out, "{open}>");
                let _ = writeln!(
                    out,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    esc(message),
                    esc(kind),
                    esc(body)
                );
                let _ = writeln!(out, "    </testcase>");
            }
        }
    }
    let _ = writeln!(out, "  </testsuite>");
    out.push_str("</testsuites>\n");
    out
}
