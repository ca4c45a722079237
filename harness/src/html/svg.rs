//! One epoch as two SVG drawings side by side: the lane names (which stay put) and the timeline
//! (which scrolls sideways when the epoch is long).
//!
//! From top to bottom the timeline holds the engine phase of each column, the power cuts and
//! reboots, the workload steps, then a lane per directory and per file. Behind the glyphs, pale
//! orange bands mark what was not durable yet: a file's bytes from its first write after a sync
//! to its next sync, a directory's names from the first change to its next `sync_dir`. A
//! dashed green line marks each durability point, a red line each power cut.

use std::fmt::Write as _;

use faultfs::{EventOp, Phase};

use super::disk::Disk;
use super::glyphs;
use super::lanes::{Lane, lanes_of};
use super::page::Page;
use super::reboot::{self, LANE_H};
use super::runs::Run;
use super::steps::{self, ROW_H, StepFacts};
use super::text::{base_name, cut, esc, px, text_width};
use super::timeline::{Epoch, PAD};

/// The width of the lane names.
pub const LABEL_W: f64 = 230.0;
const PHASE_Y: f64 = 4.0;
/// The row of power-cut labels, and under it the row of reboot headings.
const CUT_Y: f64 = 20.0;
const REBOOT_Y: f64 = 36.0;
const STEPS_Y: f64 = 56.0;

/// Everything the page draws from, worked out once.
pub struct Context<'a> {
    pub page: &'a Page,
    pub disk: Disk,
    pub facts: StepFacts,
    /// The steps as the bars that draw them.
    pub runs: Vec<Run>,
}

/// One epoch, drawn.
pub struct EpochSvg {
    pub labels: String,
    pub timeline: String,
    pub lanes: Vec<Lane>,
}

/// Draws one epoch.
pub fn epoch(cx: &Context<'_>, ep: &Epoch, last_epoch: bool) -> EpochSvg {
    let page = cx.page;
    let reboot = cx.disk.reboots.iter().find(|r| ep.holds(r.event));
    let extra = reboot
        .into_iter()
        .flat_map(|r| r.survivors.files.iter().map(|f| f.path.as_str()));
    // Files touched only inside a fold get no lane.
    let visible = ep
        .columns
        .iter()
        .filter(|c| !c.folded)
        .flat_map(|c| &page.events[c.first..=c.last]);
    let lanes = lanes_of(visible, extra, &page.roles);
    let (steps_svg, rows, steps_reach) =
        steps::band(page, &cx.facts, &cx.runs, ep, last_epoch, STEPS_Y);
    let lanes_top = STEPS_Y + rows as f64 * ROW_H + 10.0;
    let tops: Vec<f64> = (0..lanes.len())
        .map(|k| lanes_top + k as f64 * LANE_H)
        .collect();
    let bottom = lanes_top + lanes.len() as f64 * LANE_H;
    let height = bottom + 24.0;
    let ys: glyphs::LaneYs<'_> = lanes
        .iter()
        .zip(&tops)
        .map(|(l, t)| (l.path.as_str(), t + LANE_H / 2.0))
        .collect();
    let mut body = String::new();
    for (k, (lane, top)) in lanes.iter().zip(&tops).enumerate() {
        // The lane runs the whole width, which is known only once every label is placed.
        let _ = write!(
            body,
            "<g class=\"lane\" data-path=\"{}\" data-role=\"{}\"><rect class=\"lane-bg {}\" x=\"0\" y=\"{}\" width=\"100%\" height=\"{}\"/></g>",
            esc(&lane.path),
            lane.role_name(),
            if k % 2 == 0 { "even" } else { "odd" },
            px(*top),
            px(LANE_H)
        );
    }
    phases(&mut body, page, ep);
    let reboot_reach = reboot_backgrounds(&mut body, page, ep, bottom);
    bands(&mut body, cx, ep, &ys);
    durability_lines(&mut body, page, ep, bottom);
    for col in &ep.columns {
        if col.folded {
            fold(&mut body, page, col, bottom);
        } else if !matches!(page.events[col.first].op, EventOp::Reboot { .. }) {
            glyphs::column(&mut body, &page.events, col, &ys);
        }
    }
    if let (Some(r), Some(col)) = (reboot, reboot.and_then(|r| ep.column_of(r.event))) {
        reboot::column(&mut body, r, col, &lanes, &tops);
    }
    let crash_reach = crashes(&mut body, page, ep, bottom);
    body.push_str(&steps_svg);
    axis(&mut body, ep, bottom);
    // Labels of steps, cuts and reboots near the end may reach past the last column.
    let width = [steps_reach, reboot_reach, crash_reach]
        .into_iter()
        .fold(ep.width, |w, reach| w.max(reach + PAD));
    let timeline = format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">{body}</svg>",
        w = px(width),
        h = px(height)
    );
    EpochSvg {
        labels: labels(&lanes, &tops, height),
        timeline,
        lanes,
    }
}

fn labels(lanes: &[Lane], tops: &[f64], height: f64) -> String {
    let mut svg = format!(
        "<svg class=\"labels\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        w = px(LABEL_W),
        h = px(height)
    );
    for (text, y) in [
        ("phase", PHASE_Y + 10.0),
        ("power cuts", CUT_Y + 11.0),
        ("reboots", REBOOT_Y + 11.0),
        ("steps", STEPS_Y + 11.0),
    ] {
        let _ = write!(
            svg,
            "<text class=\"band-name\" x=\"8\" y=\"{}\">{text}</text>",
            px(y)
        );
    }
    for (lane, top) in lanes.iter().zip(tops) {
        let name = if lane.is_dir {
            format!("{}/", lane.path)
        } else {
            base_name(&lane.path).to_string()
        };
        let indent = if lane.is_dir { 8.0 } else { 22.0 };
        let _ = write!(
            svg,
            "<g class=\"lane-label\" data-path=\"{p}\" data-role=\"{r}\"><title>{p} ({r})</title><text class=\"{c}\" x=\"{}\" y=\"{}\">{}</text><rect class=\"badge role-{r}\" x=\"{}\" y=\"{}\" width=\"58\" height=\"15\" rx=\"7\"/><text class=\"badge-text\" x=\"{}\" y=\"{}\">{r}</text></g>",
            px(indent),
            px(top + LANE_H / 2.0 + 4.0),
            esc(&cut(&name, 24)),
            px(LABEL_W - 66.0),
            px(top + LANE_H / 2.0 - 7.5),
            px(LABEL_W - 37.0),
            px(top + LANE_H / 2.0 + 4.0),
            p = esc(&lane.path),
            r = lane.role_name(),
            c = if lane.is_dir { "dir-name" } else { "file-name" }
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The engine phase of each run of columns.
fn phases(svg: &mut String, page: &Page, ep: &Epoch) {
    let mut runs: Vec<(Phase, f64, f64)> = Vec::new();
    for col in ep.columns.iter().filter(|c| !c.folded) {
        let e = &page.events[col.first];
        if matches!(e.op, EventOp::Reboot { .. } | EventOp::Damage { .. }) {
            continue;
        }
        match runs.last_mut() {
            Some((p, _, end)) if *p == e.phase && (*end - col.x).abs() < 0.5 => {
                *end = col.x + col.w
            }
            _ => runs.push((e.phase, col.x, col.x + col.w)),
        }
    }
    for (phase, x0, x1) in runs {
        let _ = write!(
            svg,
            "<g class=\"phase phase-{n}\"><title>engine phase: {n}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"12\"/>",
            px(x0),
            px(PHASE_Y),
            px(x1 - x0),
            n = phase.name()
        );
        if x1 - x0 >= 58.0 {
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                px(x0 + 3.0),
                px(PHASE_Y + 9.5),
                phase.name()
            );
        }
        svg.push_str("</g>");
    }
}

/// Draws each reboot's column behind its decisions; returns how far right its heading reaches.
fn reboot_backgrounds(svg: &mut String, page: &Page, ep: &Epoch, bottom: f64) -> f64 {
    let mut reach: f64 = 0.0;
    for col in &ep.columns {
        let EventOp::Reboot {
            policy,
            seed,
            outcome,
        } = &page.events[col.first].op
        else {
            continue;
        };
        let head = format!("reboot · {policy} · seed {seed}");
        reach = reach.max(col.x + 8.0 + bold_width(&head));
        let _ = write!(
            svg,
            "<g class=\"reboot\" data-event=\"{}\"><title>{}</title><rect class=\"reboot-bg\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/><text class=\"reboot-head\" x=\"{}\" y=\"{}\">{}</text></g>",
            col.first,
            esc(&format!(
                "reboot {policy} seed {seed}\n{}",
                outcome
                    .decisions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            px(col.x + 2.0),
            px(REBOOT_Y),
            px(col.w - 4.0),
            px(bottom - REBOOT_Y),
            px(col.x + 8.0),
            px(REBOOT_Y + 11.0),
            esc(&head)
        );
    }
    reach
}

/// Bold text is a little wider than [`text_width`] guesses.
fn bold_width(s: &str) -> f64 {
    text_width(s) * 1.1
}

/// What was not durable yet, per lane.
fn bands(svg: &mut String, cx: &Context<'_>, ep: &Epoch, ys: &glyphs::LaneYs<'_>) {
    for b in &cx.disk.bands {
        if b.last < ep.first || b.first >= ep.end {
            continue;
        }
        let Some(&y) = ys.get(b.path.as_str()) else {
            continue;
        };
        let x0 = ep.x_at(b.first.max(ep.first));
        // The band ends in the middle of the column that closed it (a sync), or at the reboot.
        let x1 = match ep.column_of(b.last) {
            Some(c) if matches!(cx.page.events[c.first].op, EventOp::Reboot { .. }) => c.x,
            Some(c) => c.mid(),
            None => ep.x_end(b.last),
        };
        let (class, words) = if b.names {
            (
                "names",
                "names created, renamed or removed here since its last sync_dir: not durable",
            )
        } else {
            (
                "data",
                "written since its last sync: these bytes are not durable",
            )
        };
        let _ = write!(
            svg,
            "<rect class=\"pending {class}\" data-path=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>#{}..#{}: {words}</title></rect>",
            esc(&b.path),
            px(x0),
            px(y - LANE_H / 2.0 + 3.0),
            px((x1 - x0).max(3.0)),
            px(LANE_H - 6.0),
            b.first,
            b.last
        );
    }
}

/// The middle of a long epoch, folded: one hatched gap saying what it holds.
fn fold(svg: &mut String, page: &Page, col: &super::timeline::Column, bottom: f64) {
    let steps: Vec<usize> = page
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| (col.first..=col.last).contains(&s.first_event))
        .map(|(k, _)| k + 1)
        .collect();
    let which = match (steps.first(), steps.last()) {
        (Some(a), Some(b)) => format!(", steps {a}..{b}"),
        _ => String::new(),
    };
    let _ = write!(
        svg,
        "<g class=\"fold\" data-first=\"{}\" data-last=\"{}\"><title>events #{}..#{} ({} drawn{which}) are folded to keep the picture short; the text list below has every one</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/><text x=\"{}\" y=\"{}\">⋯ {} folded ⋯</text></g>",
        col.first,
        col.last,
        col.first,
        col.last,
        col.count,
        px(col.x + 4.0),
        px(PHASE_Y),
        px(col.w - 8.0),
        px(bottom - PHASE_Y),
        px(col.x + 10.0),
        px(PHASE_Y + 10.0),
        col.count
    );
}

fn durability_lines(svg: &mut String, page: &Page, ep: &Epoch, bottom: f64) {
    for (s, span) in page.steps.iter().enumerate() {
        if !span.made_durable || span.end_event == 0 || !ep.holds(span.end_event - 1) {
            continue;
        }
        if ep.column_of(span.end_event - 1).is_some_and(|c| c.folded) {
            continue;
        }
        let x = ep.x_end(span.end_event - 1);
        let _ = write!(
            svg,
            "<path class=\"durable-line\" d=\"M{} {}V{}\"><title>durability point: step {} ({}) returned, so every write issued so far counts as durable</title></path>",
            px(x),
            px(STEPS_Y),
            px(bottom),
            s + 1,
            esc(&span.label)
        );
    }
}

/// Draws each power cut; returns how far right its label reaches.
fn crashes(svg: &mut String, page: &Page, ep: &Epoch, bottom: f64) -> f64 {
    let mut reach: f64 = 0.0;
    for (k, c) in page.crashes.iter().enumerate() {
        let i = c.event_index as usize;
        if !ep.holds(i) {
            continue;
        }
        let x = ep.column_of(i).map_or_else(|| ep.x_at(i), |col| col.mid());
        let recovery = if c.during_recovery {
            " · in recovery"
        } else {
            ""
        };
        let text = format!(
            "⚡ power cut {} · {}{recovery} · D..N = {}..{}",
            k + 1,
            c.phase,
            c.bounds.0,
            c.bounds.1
        );
        reach = reach.max(x + 4.0 + bold_width(&text));
        let title = format!(
            "power cut {} at event #{i} in phase {}{recovery}\nthe recovery had to return the model after between D = {} and N = {} writes\npolicy: {}\nresult: {}",
            k + 1,
            c.phase,
            c.bounds.0,
            c.bounds.1,
            c.policy,
            c.result
        );
        let _ = write!(
            svg,
            "<g class=\"crash\" data-crash=\"{}\" data-event=\"{i}\"><title>{}</title><path class=\"crash-line\" d=\"M{x} {}V{}\"/><text class=\"crash-label\" x=\"{}\" y=\"{}\">{}</text></g>",
            k + 1,
            esc(&title),
            px(CUT_Y),
            px(bottom),
            px(x + 4.0),
            px(CUT_Y + 11.0),
            esc(&text),
            x = px(x)
        );
    }
    reach
}

/// Event numbers under the lanes, every tenth column and at each reboot.
fn axis(svg: &mut String, ep: &Epoch, bottom: f64) {
    let mut last_x = f64::MIN;
    for (k, col) in ep.columns.iter().enumerate() {
        let wide = col.w >= super::timeline::REBOOT_W;
        if (k % 10 != 0 && !wide) || col.x < last_x + 40.0 {
            continue;
        }
        last_x = col.x;
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{}\" y=\"{}\">#{}</text>",
            px(col.x + 1.0),
            px(bottom + 14.0),
            col.first
        );
    }
}
