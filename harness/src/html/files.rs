//! Pages on disk: where the `--html` options of `replay`, `scenario` and `gate` put them, and
//! what each command says on its page (title, notes, replay command).
//!
//! `replay --html FILE` writes one page. `scenario --html PATH` writes a page per scenario whose
//! run broke the contract: to PATH itself when it ends in `.html` and one scenario ran, to
//! `<stem>-<scenario name>.html` beside it when several did, else to `PATH/<scenario name>.html`. `gate --html DIR` writes `DIR/seed-<seed>-<kind>.html` per
//! failure and records each path in the JSON report's violation.

use std::io;
use std::path::{Path, PathBuf};

use faultfs::KindFn;

use super::{Page, page_of, render};
use crate::gate::GateOutcome;
use crate::run::RunOutcome;
use crate::scenario::Scenario;
use crate::shrink::ShrinkOutcome;

/// Where a page named `name` goes under the `--html` path `base`.
pub fn page_path(base: &Path, name: &str, several: bool) -> PathBuf {
    let is_file = base.extension().is_some_and(|e| e == "html");
    if is_file && !several {
        return base.to_path_buf();
    }
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    match base.file_stem().filter(|_| is_file) {
        // Several pages for `fail.html`: `fail-<name>.html` beside it.
        Some(stem) => base.with_file_name(format!("{}-{safe}.html", stem.to_string_lossy())),
        None => base.join(format!("{safe}.html")),
    }
}

/// Renders a page to `path`, making its directory if needed.
pub fn write_page(path: &Path, page: &Page) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(page))
}

/// The page of a failed `replay`: the shrunk case when shrinking kept the failure (it reads at a
/// glance), else the seed's run. `None` when the run passed.
pub fn replay_page(
    original: &RunOutcome,
    shrunk: Option<&ShrinkOutcome>,
    roles: KindFn,
) -> Option<Page> {
    let shown = shrunk
        .map(|s| &s.outcome)
        .filter(|o| !o.passed())
        .unwrap_or(original);
    let mut page = page_of(shown, roles)?;
    let seed_replay = original
        .config
        .as_ref()
        .map(|c| c.replay_command())
        .unwrap_or_default();
    page.seed = original.seed;
    if !std::ptr::eq(shown, original) {
        page.notes.push(format!(
            "Shrunk from {} to {} steps ({} candidate runs); the seed's own run has more events.",
            original.case.steps.len(),
            shown.case.steps.len(),
            shrunk.map_or(0, |s| s.runs)
        ));
        if let Some(p) = shown.report.as_ref().and_then(|r| r.scenario_path.as_ref()) {
            page.notes.push(format!("The shrunk case is saved as {p}."));
            page.replay = shown
                .report
                .as_ref()
                .map(|r| r.replay.clone())
                .unwrap_or_else(|| format!("powercut scenario {p}"));
        } else {
            page.replay = seed_replay.clone();
        }
        if page.replay != seed_replay {
            page.notes
                .push(format!("Replay the seed's run: {seed_replay}"));
        }
    } else {
        page.replay = seed_replay;
    }
    Some(page)
}

/// The page of a scenario whose run broke the contract (an expected violation included: a
/// canary's picture is worth seeing too). `None` when the run found no violation.
pub fn scenario_page(
    scenario: &Scenario,
    file: &Path,
    outcome: &RunOutcome,
    roles: KindFn,
    command: &str,
) -> Option<Page> {
    let mut page = page_of(outcome, roles)?;
    if let Some(v) = &page.violation {
        page.title = format!("{}: scenario {}", v.kind, scenario.name);
    }
    page.notes.push(scenario.description.clone());
    if let Some(kind) = scenario.expect_violation {
        page.notes
            .push(format!("The scenario expects a {kind} violation."));
    }
    page.replay = format!("{command} {}", file.display());
    Some(page)
}

/// Writes a page per gate failure into `dir`, records each path in the report's violations and
/// returns the paths written.
pub fn write_gate_pages(
    dir: &Path,
    outcome: &mut GateOutcome,
    roles: KindFn,
) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for v in outcome.report.violations.iter_mut() {
        let Some(failure) = outcome.failures.iter().find(|f| f.seed.seed == v.seed) else {
            continue;
        };
        let Some(shown) = failure.shown() else {
            continue;
        };
        let Some(mut page) = page_of(shown, roles) else {
            continue;
        };
        page.title = format!("{}: seed {} ({} + {})", v.kind, v.seed, v.policy, v.fault);
        page.seed = Some(v.seed);
        page.replay = v.report.replay.clone();
        if let Some(s) = &v.shrunk {
            page.notes.push(format!(
                "Shrunk from {} to {} steps in {} candidate runs.",
                s.steps_before, s.steps_after, s.runs
            ));
        }
        if v.report.replay != v.replay {
            page.notes
                .push(format!("Replay the seed's run: {}", v.replay));
        }
        let path = page_path(dir, &format!("seed-{}-{}", v.seed, v.kind), true);
        write_page(&path, &page)?;
        v.html = Some(path.display().to_string());
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_html_path_is_the_page_itself_unless_several_pages_go_there() {
        let base = Path::new("out/fail.html");
        assert_eq!(page_path(base, "x", false), PathBuf::from("out/fail.html"));
        assert_eq!(
            page_path(base, "a b/c", true),
            PathBuf::from("out/fail-a-b-c.html")
        );
        assert_eq!(
            page_path(Path::new("pages"), "seed-3-phantom", false),
            PathBuf::from("pages/seed-3-phantom.html")
        );
    }
}
