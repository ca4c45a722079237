//! How each file-system event is drawn on its lane.
//!
//! | event | file lane | directory lane |
//! |---|---|---|
//! | create | hollow circle | tick (a name that is not durable until `sync_dir`) |
//! | write (`×n` for a run) | blue block | |
//! | set_len | thin bar | |
//! | sync | tall green bar (red with ✗ when it failed) | |
//! | rename | arrow from the old name's lane to the new name's | tick |
//! | remove | cross | tick |
//! | create_dir_all | | diamond |
//! | sync_dir | | tall dark green bar |
//! | damage at a reboot | magenta star | |
//! | the operation the power cut | red cross | |
//!
//! A fault that fired on an event puts an orange ring around it. Every glyph carries the event
//! as text in its tooltip and its index in `data-event`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use faultfs::{Event, EventOp};

use super::lanes::dir_path;
use super::text::{esc, px};
use super::timeline::Column;

/// Where each lane's middle is, by path.
pub type LaneYs<'a> = BTreeMap<&'a str, f64>;

/// Draws the events of one column.
pub fn column(svg: &mut String, events: &[Event], col: &Column, ys: &LaneYs<'_>) {
    let e = &events[col.first];
    let cx = col.mid();
    let title = column_title(events, col);
    let _ = write!(
        svg,
        "<g class=\"ev op-{}\" data-event=\"{}\"><title>{}</title>",
        op_name(&e.op),
        col.first,
        esc(&title)
    );
    let failed = e.result != "ok";
    let cut = e.result.starts_with("power_loss");
    match &e.op {
        EventOp::Rename { from, to } => rename(svg, cx, ys.get(from.as_str()), ys.get(to.as_str())),
        op => {
            if let Some(&y) = super::lanes::file_paths(op).first().and_then(|p| ys.get(p)) {
                file_glyph(svg, op, cx, y, failed && !cut);
                if col.count > 1 {
                    let _ = write!(
                        svg,
                        "<text class=\"count\" x=\"{}\" y=\"{}\">×{}</text>",
                        px(cx),
                        px(y - 8.0),
                        col.count
                    );
                }
            }
        }
    }
    if let Some(&y) = dir_path(&e.op).and_then(|d| ys.get(d)) {
        dir_glyph(svg, &e.op, cx, y, failed && !cut);
    }
    if let Some(y) = anchor(&e.op, ys) {
        if cut {
            let _ = write!(
                svg,
                "<path class=\"g-cut\" d=\"M{a} {b}L{c} {d}M{a} {d}L{c} {b}\"/>",
                a = px(cx - 6.0),
                b = px(y - 6.0),
                c = px(cx + 6.0),
                d = px(y + 6.0)
            );
        }
        if e.fault.is_some() {
            let _ = write!(
                svg,
                "<circle class=\"g-fault\" cx=\"{}\" cy=\"{}\" r=\"10\"/>",
                px(cx),
                px(y)
            );
        }
    }
    svg.push_str("</g>");
}

/// The lane an event's cut or fault marks sit on: its file, else its directory.
fn anchor(op: &EventOp, ys: &LaneYs<'_>) -> Option<f64> {
    let file = super::lanes::file_paths(op)
        .first()
        .and_then(|p| ys.get(p))
        .copied();
    file.or_else(|| dir_path(op).and_then(|d| ys.get(d)).copied())
}

/// The tooltip: the event, or the run of events a merged column stands for.
fn column_title(events: &[Event], col: &Column) -> String {
    let e = &events[col.first];
    if col.count == 1 {
        return e.to_string();
    }
    let writes = events[col.first..=col.last]
        .iter()
        .filter_map(|e| match &e.op {
            EventOp::Write { offset, len, .. } => Some((*offset, offset + len)),
            _ => None,
        });
    let (lo, hi) = writes.fold((u64::MAX, 0), |(lo, hi), (a, b)| (lo.min(a), hi.max(b)));
    let path = super::lanes::file_paths(&e.op)
        .first()
        .copied()
        .unwrap_or("");
    format!(
        "#{}..#{} [{}] {} {}s to {path}, bytes {lo}..{hi}",
        col.first,
        col.last,
        e.phase,
        col.count,
        op_name(&e.op)
    )
}

fn file_glyph(svg: &mut String, op: &EventOp, cx: f64, y: f64, failed: bool) {
    let _ = match op {
        EventOp::Create { .. } => write!(
            svg,
            "<circle class=\"g-create\" cx=\"{}\" cy=\"{}\" r=\"5\"/>",
            px(cx),
            px(y)
        ),
        EventOp::Write { .. } => write!(
            svg,
            "<rect class=\"g-write{}\" x=\"{}\" y=\"{}\" width=\"10\" height=\"12\"/>",
            if failed { " failed" } else { "" },
            px(cx - 5.0),
            px(y - 6.0)
        ),
        EventOp::SetLen { .. } => write!(
            svg,
            "<rect class=\"g-setlen\" x=\"{}\" y=\"{}\" width=\"12\" height=\"4\"/>",
            px(cx - 6.0),
            px(y - 2.0)
        ),
        EventOp::Sync { .. } if failed => write!(
            svg,
            "<rect class=\"g-sync failed\" x=\"{}\" y=\"{}\" width=\"4\" height=\"22\"/><text class=\"g-x\" x=\"{}\" y=\"{}\">✗</text>",
            px(cx - 2.0),
            px(y - 11.0),
            px(cx + 4.0),
            px(y - 4.0)
        ),
        EventOp::Sync { .. } => write!(
            svg,
            "<rect class=\"g-sync\" x=\"{}\" y=\"{}\" width=\"4\" height=\"22\"/>",
            px(cx - 2.0),
            px(y - 11.0)
        ),
        EventOp::Remove { .. } => write!(
            svg,
            "<path class=\"g-remove\" d=\"M{a} {b}L{c} {d}M{a} {d}L{c} {b}\"/>",
            a = px(cx - 5.0),
            b = px(y - 5.0),
            c = px(cx + 5.0),
            d = px(y + 5.0)
        ),
        EventOp::Damage { .. } => write!(
            svg,
            "<path class=\"g-damage\" d=\"M{} {}l3 6 6 1-5 4 2 6-6-3-6 3 2-6-5-4 6-1z\"/>",
            px(cx),
            px(y - 8.0)
        ),
        // Reads, opens and the like are drawn only when they failed or a fault hit them.
        _ => write!(
            svg,
            "<rect class=\"g-other\" x=\"{}\" y=\"{}\" width=\"8\" height=\"8\"/>",
            px(cx - 4.0),
            px(y - 4.0)
        ),
    };
}

fn dir_glyph(svg: &mut String, op: &EventOp, cx: f64, y: f64, failed: bool) {
    let _ = match op {
        EventOp::SyncDir { .. } => write!(
            svg,
            "<rect class=\"g-syncdir{}\" x=\"{}\" y=\"{}\" width=\"5\" height=\"24\"/>",
            if failed { " failed" } else { "" },
            px(cx - 2.5),
            px(y - 12.0)
        ),
        EventOp::CreateDir { .. } => write!(
            svg,
            "<path class=\"g-mkdir\" d=\"M{} {}l6 6-6 6-6-6z\"/>",
            px(cx),
            px(y - 6.0)
        ),
        // A name changed in this directory: not durable until the directory is synced.
        _ => write!(
            svg,
            "<path class=\"g-name-tick\" d=\"M{} {}v10\"/>",
            px(cx),
            px(y - 5.0)
        ),
    };
}

/// A rename: a dot on the old name's lane, an arrow down (or up) to the new name's lane.
fn rename(svg: &mut String, cx: f64, from: Option<&f64>, to: Option<&f64>) {
    if let Some(&y) = from {
        let _ = write!(
            svg,
            "<circle class=\"g-rename-from\" cx=\"{}\" cy=\"{}\" r=\"3.5\"/>",
            px(cx),
            px(y)
        );
    }
    let Some(&y1) = to else { return };
    if let Some(&y0) = from {
        let _ = write!(
            svg,
            "<path class=\"g-rename\" d=\"M{} {}L{} {}\"/>",
            px(cx),
            px(y0),
            px(cx),
            px(y1)
        );
    }
    let dir = if from.is_some_and(|y0| *y0 > y1) {
        -1.0
    } else {
        1.0
    };
    let _ = write!(
        svg,
        "<path class=\"g-rename-to\" d=\"M{} {}l-5 {}h10z\"/>",
        px(cx),
        px(y1),
        px(-7.0 * dir)
    );
}

/// The operation's name as CSS classes and tooltips use it.
pub fn op_name(op: &EventOp) -> &'static str {
    match op {
        EventOp::Create { .. } => "create",
        EventOp::Open { .. } => "open",
        EventOp::Read { .. } => "read",
        EventOp::Write { .. } => "write",
        EventOp::SetLen { .. } => "set_len",
        EventOp::Sync { .. } => "sync",
        EventOp::Rename { .. } => "rename",
        EventOp::Remove { .. } => "remove",
        EventOp::List { .. } => "list",
        EventOp::CreateDir { .. } => "create_dir",
        EventOp::SyncDir { .. } => "sync_dir",
        EventOp::Exists { .. } => "exists",
        EventOp::Lock { .. } => "lock",
        EventOp::PowerOff => "power_off",
        EventOp::Reboot { .. } => "reboot",
        EventOp::Damage { .. } => "damage",
    }
}
