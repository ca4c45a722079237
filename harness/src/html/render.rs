//! The whole page: heading, violation, timeline (one collapsible part per epoch), hints, faults
//! and the replay command, as one HTML document with its style inline and no script.

use std::fmt::Write as _;

use super::disk::walk;
use super::page::Page;
use super::runs;
use super::steps::{self, kind_name};
use super::svg::{self, Context};
use super::text::esc;
use super::timeline::{self, Epoch};

/// The page's style, kept in its own file so it reads as CSS.
const STYLE: &str = include_str!("page.css");

/// Small cases are drawn with every epoch open; past this many columns, only the epochs of the
/// failure are, and the others wait behind their summary line.
const OPEN_COLUMNS_MAX: usize = 160;

/// A case with fewer columns than this gets wider ones (up to `COLUMN_W_MAX`).
const ZOOM_COLUMNS: usize = 50;

/// Renders a page as a self-contained HTML document: no network, no external fonts or scripts.
pub fn render(page: &Page) -> String {
    let runs = runs::runs(&page.steps, &page.events);
    // Writes merge into one column only inside one run of steps.
    let mut step_of = vec![None; page.events.len()];
    for (r, run) in runs.iter().enumerate() {
        let first = page.steps[run.first].first_event;
        let end = page.steps[run.last].end_event;
        for slot in step_of.iter_mut().take(end).skip(first) {
            *slot = Some(r);
        }
    }
    let mut epochs = timeline::epochs(&page.events, &step_of, timeline::COLUMN_W);
    let columns: usize = epochs.iter().map(|e| e.columns.len()).sum();
    // A small case is drawn wider, so it reads at a glance instead of filling a corner.
    let zoom = (ZOOM_COLUMNS as f64 / columns.max(1) as f64 * timeline::COLUMN_W)
        .clamp(timeline::COLUMN_W, timeline::COLUMN_W_MAX);
    if zoom > timeline::COLUMN_W {
        epochs = timeline::epochs(&page.events, &step_of, zoom);
    }
    let cx = Context {
        page,
        disk: walk(&page.events),
        facts: steps::facts(page),
        runs,
    };
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        esc(&page.title)
    );
    heading(&mut out, page);
    violation(&mut out, page);
    out.push_str("<section class=\"timeline-part\">\n<h2>What happened, file by file</h2>\n");
    out.push_str(LEGEND);
    let open = open_epochs(page, &epochs);
    for ep in &epochs {
        epoch_part(
            &mut out,
            &cx,
            ep,
            open.contains(&ep.number),
            ep.number == epochs.len(),
        );
    }
    out.push_str("</section>\n");
    hints(&mut out, page);
    faults(&mut out, page);
    steps_list(&mut out, page);
    let _ = write!(
        out,
        "<section class=\"replay\">\n<h2>Replay</h2>\n<pre class=\"replay-command\">{}</pre>\n<p class=\"small\">trace hash {:016x}: a replay must log exactly the same events.</p>\n</section>\n</body>\n</html>\n",
        esc(&page.replay),
        page.trace_hash
    );
    out
}

fn heading(out: &mut String, page: &Page) {
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<p class=\"facts\">store <b>{}</b>",
        esc(&page.title),
        esc(&page.store)
    );
    if let Some(seed) = page.seed {
        let _ = write!(out, " · seed <b>{seed}</b>");
    }
    let mut policies: Vec<String> = Vec::new();
    for p in page.crashes.iter().map(|c| c.policy).chain(page.policy) {
        if !policies.contains(&p.to_string()) {
            policies.push(p.to_string());
        }
    }
    if !policies.is_empty() {
        let _ = write!(out, " · crash policy <b>{}</b>", esc(&policies.join(", ")));
    }
    let _ = writeln!(
        out,
        " · {} · {} · {}</p>",
        count(page.steps.len(), "step"),
        count(page.events.len(), "file-system event"),
        count(page.crashes.len(), "power cut")
    );
    if !page.notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in &page.notes {
            let _ = writeln!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</header>\n");
}

/// `1 step`, `3 steps`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn violation(out: &mut String, page: &Page) {
    let Some(v) = &page.violation else {
        return;
    };
    let _ = write!(
        out,
        "<section class=\"violation\" data-kind=\"{k}\">\n<h2>Violation: {k}</h2>\n<p class=\"message\">{}</p>\n",
        esc(&v.message),
        k = esc(&v.kind)
    );
    if let Some(last) = page.crashes.last() {
        let _ = writeln!(
            out,
            "<p class=\"small\">after power cut {} at event #{} ({}{}): the recovered state had to be the model after between D = {} and N = {} writes; {}.</p>",
            page.crashes.len(),
            last.event_index,
            last.phase,
            if last.during_recovery {
                ", during recovery"
            } else {
                ""
            },
            last.bounds.0,
            last.bounds.1,
            esc(&last.result)
        );
    }
    if !v.diffs.is_empty() {
        let against = v
            .closest_k
            .map(|k| format!(" (the model after {k} writes)"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<table class=\"diffs\">\n<tr><th>key</th><th>expected{}</th><th>recovered</th></tr>\n",
            esc(&against)
        );
        for d in &v.diffs {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&d.key),
                value(d.expected.as_deref()),
                value(d.recovered.as_deref())
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
}

/// A value in the diff table; absent values are said so, long ones are cut (the whole value is
/// in the tooltip).
fn value(v: Option<&str>) -> String {
    match v {
        None => "<i>absent</i>".to_string(),
        Some(v) => format!(
            "<code title=\"{}\">{}</code>",
            esc(v),
            esc(&super::text::cut(&format!("{v:?}"), 48))
        ),
    }
}

/// The epochs open at first: all of a small case; else those from the power cut that started
/// the failing recovery (or chain of recoveries cut again) to the end.
fn open_epochs(page: &Page, epochs: &[Epoch]) -> Vec<usize> {
    let columns: usize = epochs.iter().map(|e| e.columns.len()).sum();
    if columns <= OPEN_COLUMNS_MAX {
        return epochs.iter().map(|e| e.number).collect();
    }
    let mut k = page.crashes.len();
    while k > 1 && page.crashes[k - 1].during_recovery {
        k -= 1;
    }
    let from = page
        .crashes
        .get(k.wrapping_sub(1))
        .and_then(|c| epochs.iter().find(|e| e.holds(c.event_index as usize)))
        .map_or(epochs.len(), |e| e.number);
    (from.min(epochs.len().saturating_sub(1)).max(1)..=epochs.len()).collect()
}

fn epoch_part(out: &mut String, cx: &Context<'_>, ep: &Epoch, open: bool, last: bool) {
    let page = cx.page;
    let drawn = svg::epoch(cx, ep, last);
    let ending = match ep.reboot {
        Some(_) => page
            .crashes
            .iter()
            .enumerate()
            .find(|(_, c)| ep.holds(c.event_index as usize))
            .map(|(k, c)| {
                format!(
                    "power cut {} at #{} ({}), then: {}",
                    k + 1,
                    c.event_index,
                    c.phase,
                    c.result
                )
            })
            .unwrap_or_else(|| "ends with a reboot".to_string()),
        None => "runs to the end of the log".to_string(),
    };
    let drawn_words = if ep.columns.is_empty() {
        "nothing written (only reads and lookups)".to_string()
    } else {
        format!("{} drawn", ep.columns.len())
    };
    let _ = write!(
        out,
        "<details class=\"epoch\" data-epoch=\"{}\"{}>\n<summary>Power-on {}: events #{}..#{}, {drawn_words}, {} lanes; {}</summary>\n<div class=\"epoch-grid\">{}<div class=\"scroll\">{}</div></div>\n",
        ep.number,
        if open { " open" } else { "" },
        ep.number,
        ep.first,
        ep.end.saturating_sub(1),
        drawn.lanes.len(),
        esc(&ending),
        drawn.labels,
        drawn.timeline
    );
    let _ = write!(
        out,
        "<details class=\"events\"><summary>the {} events as text</summary><pre>",
        ep.end - ep.first
    );
    for e in &page.events[ep.first..ep.end] {
        let _ = writeln!(out, "{}", esc(&e.to_string()));
    }
    out.push_str("</pre></details>\n</details>\n");
}

fn hints(out: &mut String, page: &Page) {
    if page.hints.is_empty() {
        return;
    }
    out.push_str("<section class=\"hints\">\n<h2>Where to look</h2>\n<ul>\n");
    for h in &page.hints {
        let _ = writeln!(out, "<li>{}</li>", esc(h));
    }
    out.push_str("</ul>\n</section>\n");
}

fn faults(out: &mut String, page: &Page) {
    if page.faults.is_empty() {
        return;
    }
    out.push_str("<section class=\"faults\">\n<h2>Faults</h2>\n<ul>\n");
    for f in &page.faults {
        let _ = writeln!(out, "<li><code>{}</code></li>", esc(f));
    }
    out.push_str("</ul>\n</section>\n");
}

fn steps_list(out: &mut String, page: &Page) {
    let _ = write!(
        out,
        "<section class=\"steps-list\">\n<details><summary>The {} steps</summary>\n<ol>\n",
        page.steps.len()
    );
    for s in &page.steps {
        let events = if s.first_event < s.end_event {
            format!("events #{}..#{}", s.first_event, s.end_event - 1)
        } else {
            "no events".to_string()
        };
        let _ = writeln!(
            out,
            "<li class=\"step-{}\"><code>{}</code> <span class=\"small\">{events}{}{}</span></li>",
            kind_name(s.kind),
            esc(&s.label),
            if s.acked { ", acknowledged" } else { "" },
            if s.made_durable {
                ", durability point"
            } else {
                ""
            }
        );
    }
    out.push_str("</ol>\n</details>\n</section>\n");
}

/// The key to the drawing.
const LEGEND: &str = r##"<div class="legend">
<span><svg width="14" height="14"><rect class="g-write" x="2" y="1" width="10" height="12"/></svg> write</span>
<span><svg width="14" height="14"><rect class="g-sync" x="5" y="0" width="4" height="14"/></svg> sync</span>
<span><svg width="14" height="14"><rect class="g-syncdir" x="4" y="0" width="5" height="14"/></svg> sync_dir</span>
<span><svg width="14" height="14"><circle class="g-create" cx="7" cy="7" r="5"/></svg> create</span>
<span><svg width="14" height="14"><path class="g-rename" d="M7 1V12"/><path class="g-rename-to" d="M7 13l-5-7h10z"/></svg> rename</span>
<span><svg width="14" height="14"><path class="g-remove" d="M2 2L12 12M2 12L12 2"/></svg> remove</span>
<span><svg width="14" height="14"><path class="g-name-tick" d="M7 2v10"/></svg> name changed in a directory</span>
<span><svg width="22" height="14"><rect class="pending data" x="0" y="2" width="22" height="10"/></svg> not durable yet</span>
<span><svg width="14" height="14"><path class="durable-line" d="M7 0V14"/></svg> durability point</span>
<span><svg width="14" height="14"><path class="crash-line" d="M7 0V14"/></svg> power cut</span>
<span><svg width="14" height="14"><circle class="g-fault" cx="7" cy="7" r="6"/></svg> fault fired</span>
<span class="sep">after a reboot:</span>
<span><svg width="14" height="12"><rect class="bytes-durable" x="0" y="1" width="14" height="10"/></svg> durable bytes</span>
<span><svg width="14" height="12"><rect class="piece kept" x="0" y="1" width="14" height="10"/></svg> kept</span>
<span><svg width="14" height="12"><rect class="piece dropped" x="0" y="1" width="14" height="10"/></svg> dropped</span>
<span><svg width="14" height="12"><rect class="piece torn-zeros" x="0" y="1" width="14" height="10"/></svg> torn (zeros)</span>
<span><svg width="14" height="12"><rect class="piece torn-garbage" x="0" y="1" width="14" height="10"/></svg> torn (garbage)</span>
<span class="sep">steps:</span>
<span><svg width="14" height="12"><g class="step step-write durable"><rect x="0" y="1" width="14" height="10"/></g></svg> write made durable</span>
<span><svg width="14" height="12"><g class="step step-write acked"><rect x="0" y="1" width="14" height="10"/></g></svg> acknowledged, not durable</span>
<span><b class="flag-d">D</b> <b class="flag-n">N</b> the writes a recovery must keep (up to D) and may keep (up to N)</span>
</div>
"##;
