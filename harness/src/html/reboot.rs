//! A reboot's column: what survived of each file, drawn on the file's bytes.
//!
//! Each file the reboot found gets a bar as long as the file was when the power went: the bytes
//! a sync had made durable in grey, then its pending pieces as the reboot decided them, kept
//! (green), dropped (pale, dashed), torn to zeros (black) or to garbage (magenta), a resize as a
//! tick. A caption says the same in words. A name the reboot dropped strikes the file through;
//! a directory's lane lists which of its pending name changes were kept.

use std::fmt::Write as _;

use super::disk::{FileAtCrash, Reboot};
use super::lanes::{Lane, parent};
use super::survivors::{FileFate, Fill, NameOp, NameSurvival, Piece};
use super::text::{cut, esc, px};
use super::timeline::Column;

/// The height of a lane; a file's bar and caption fit inside.
pub const LANE_H: f64 = 32.0;

/// Draws the reboot's decisions on every lane (`lane_tops[k]` is the top of `lanes[k]`).
pub fn column(svg: &mut String, reboot: &Reboot, col: &Column, lanes: &[Lane], lane_tops: &[f64]) {
    let _ = write!(
        svg,
        "<g class=\"reboot-survivors\" data-event=\"{}\">",
        reboot.event
    );
    for (lane, top) in lanes.iter().zip(lane_tops) {
        if lane.is_dir {
            dir_lane(svg, reboot, lane, col, *top);
        } else {
            file_lane(svg, reboot, lane, col, *top);
        }
    }
    svg.push_str("</g>");
}

/// The pieces a file's pending changes came to: as the reboot listed them, or its pending
/// writes all kept or all dropped. A file the reboot does not name had nothing pending.
fn pieces_of(fate: Option<&FileFate>, at_crash: &FileAtCrash) -> Vec<Piece> {
    let all = |fill: Fill| {
        at_crash
            .pending
            .iter()
            .map(|&(start, end)| Piece::Bytes {
                start,
                end,
                fate: fill,
            })
            .collect()
    };
    match fate {
        Some(FileFate::Pieces(p)) => p.clone(),
        Some(FileFate::KeptAll) => all(Fill::Kept),
        Some(FileFate::DroppedAll) => all(Fill::Dropped),
        None => Vec::new(),
    }
}

fn file_lane(svg: &mut String, reboot: &Reboot, lane: &Lane, col: &Column, top: f64) {
    let path = lane.path.as_str();
    let fate = reboot
        .survivors
        .files
        .iter()
        .find(|f| f.path == path)
        .map(|f| &f.fate);
    let names: Vec<&NameSurvival> = reboot
        .survivors
        .names
        .iter()
        .filter(|n| n.op.paths().contains(&path))
        .collect();
    let Some(at_crash) = reboot.files.get(path) else {
        // Not a file when the power went (removed, or renamed away): only name changes to tell.
        if !names.is_empty() {
            caption(svg, col, top, &names_caption(&names, path), "names");
        }
        return;
    };
    let pieces = pieces_of(fate, at_crash);
    let extent = pieces
        .iter()
        .map(|p| match *p {
            Piece::Bytes { end, .. } => end,
            Piece::SetLen { len, .. } => len,
        })
        .fold(at_crash.live_len.max(at_crash.durable_len), u64::max)
        .max(1);
    let (bx, bw) = (col.x + 10.0, col.w - 20.0);
    let scale = |b: u64| bx + bw * (b as f64 / extent as f64);
    let bar_y = top + 5.0;
    let _ = write!(
        svg,
        "<g class=\"survival\" data-path=\"{}\"><rect class=\"bytes-frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\"><title>{} was {} bytes long when the power went</title></rect>",
        esc(path),
        px(bx),
        px(bar_y),
        px(bw),
        esc(path),
        at_crash.live_len
    );
    if at_crash.durable_len > 0 {
        let _ = write!(
            svg,
            "<rect class=\"bytes-durable\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\"><title>bytes 0..{} were durable (synced) before the power went</title></rect>",
            px(bx),
            px(bar_y),
            px(scale(at_crash.durable_len) - bx),
            at_crash.durable_len
        );
    }
    for p in &pieces {
        piece(svg, path, p, &scale, bar_y);
    }
    let name_lost = names
        .iter()
        .any(|n| !n.kept && n.op.paths().last() == Some(&path));
    if name_lost {
        let _ = write!(
            svg,
            "<path class=\"name-lost\" d=\"M{} {}H{}\"><title>the name {} did not survive: the file is gone after the reboot</title></path>",
            px(bx - 4.0),
            px(bar_y + 5.0),
            px(bx + bw + 4.0),
            esc(path)
        );
    }
    let mut words = names_caption(&names, path);
    // Once the name is gone, so is every byte: what the bytes did no longer matters.
    let bytes = if name_lost {
        "the file is gone".to_string()
    } else {
        match fate {
            None if at_crash.durable_len == 0 => "nothing pending: empty".to_string(),
            None => format!("nothing pending: {} durable bytes", at_crash.durable_len),
            Some(_) => pieces_caption(&pieces),
        }
    };
    if !words.is_empty() && !bytes.is_empty() {
        words.push_str(" · ");
    }
    words.push_str(&bytes);
    caption(
        svg,
        col,
        top,
        &words,
        if name_lost { "lost" } else { "bytes" },
    );
    svg.push_str("</g>");
}

fn piece(svg: &mut String, path: &str, p: &Piece, scale: &dyn Fn(u64) -> f64, y: f64) {
    match *p {
        Piece::Bytes { start, end, fate } => {
            let x0 = scale(start);
            // A piece narrower than a pixel is still drawn, or a torn sector would vanish.
            let w = (scale(end) - x0).max(1.5);
            let _ = write!(
                svg,
                "<rect class=\"piece {n}\" data-path=\"{}\" data-fill=\"{n}\" data-range=\"{start}..{end}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\"><title>bytes {start}..{end}: {}</title></rect>",
                esc(path),
                px(x0),
                px(y),
                px(w),
                fill_words(fate),
                n = fate.name()
            );
        }
        Piece::SetLen { len, kept } => {
            let n = if kept { "kept" } else { "dropped" };
            let _ = write!(
                svg,
                "<path class=\"piece setlen {n}\" data-path=\"{}\" data-fill=\"setlen-{n}\" d=\"M{} {}v14\"><title>resize to {len} bytes: {n}</title></path>",
                esc(path),
                px(scale(len)),
                px(y - 2.0)
            );
        }
    }
}

fn fill_words(fill: Fill) -> &'static str {
    match fill {
        Fill::Kept => "kept (reached the disk)",
        Fill::Dropped => "dropped (never reached the disk)",
        Fill::TornZeros => "torn: the sector holds zeros",
        Fill::TornGarbage => "torn: the sector holds garbage",
    }
}

/// `kept 0..16, torn 16..32 (zeros), dropped 32..72` (runs of one fill merged).
fn pieces_caption(pieces: &[Piece]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u64, u64, Fill)> = None;
    let flush = |run: &mut Option<(u64, u64, Fill)>, parts: &mut Vec<String>| {
        if let Some((a, b, f)) = run.take() {
            parts.push(match f {
                Fill::Kept => format!("kept {a}..{b}"),
                Fill::Dropped => format!("dropped {a}..{b}"),
                Fill::TornZeros => format!("torn {a}..{b} (zeros)"),
                Fill::TornGarbage => format!("torn {a}..{b} (garbage)"),
            });
        }
    };
    for p in pieces {
        match *p {
            Piece::Bytes { start, end, fate } => match &mut run {
                Some((_, b, f)) if *b == start && *f == fate => *b = end,
                _ => {
                    flush(&mut run, &mut parts);
                    run = Some((start, end, fate));
                }
            },
            Piece::SetLen { len, kept } => {
                flush(&mut run, &mut parts);
                parts.push(format!(
                    "resize {len} {}",
                    if kept { "kept" } else { "dropped" }
                ));
            }
        }
    }
    flush(&mut run, &mut parts);
    parts.join(", ")
}

/// What the reboot did to the name `path`, in words.
fn names_caption(names: &[&NameSurvival], path: &str) -> String {
    names
        .iter()
        .map(|n| {
            let mark = if n.kept { "✓" } else { "✗" };
            let what = match &n.op {
                NameOp::Create(_) => "created name",
                NameOp::Mkdir(_) => "new directory",
                NameOp::Remove(_) => "removal",
                NameOp::Rename { to, .. } if to == path => "rename into place",
                NameOp::Rename { .. } => "rename away",
            };
            format!("{mark} {what} {}", if n.kept { "kept" } else { "dropped" })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn dir_lane(svg: &mut String, reboot: &Reboot, lane: &Lane, col: &Column, top: f64) {
    let mine: Vec<&NameSurvival> = reboot
        .survivors
        .names
        .iter()
        .filter(|n| n.op.paths().iter().any(|p| parent(p) == lane.path))
        .collect();
    if mine.is_empty() {
        return;
    }
    let _ = write!(
        svg,
        "<g class=\"survival names\" data-path=\"{}\">",
        esc(&lane.path)
    );
    for (k, n) in mine.iter().enumerate() {
        let class = if n.kept { "kept" } else { "dropped" };
        let _ = write!(
            svg,
            "<rect class=\"name-op {class}\" data-name-op=\"{}\" x=\"{}\" y=\"{}\" width=\"9\" height=\"9\"><title>{} {class}</title></rect>",
            esc(&n.op.describe()),
            px(col.x + 10.0 + 12.0 * k as f64),
            px(top + 5.0),
            esc(&n.op.describe())
        );
        if k >= 16 {
            break;
        }
    }
    let words: Vec<String> = mine
        .iter()
        .map(|n| format!("{} {}", if n.kept { "✓" } else { "✗" }, n.op.describe()))
        .collect();
    caption(svg, col, top, &words.join(", "), "names");
    svg.push_str("</g>");
}

/// A line of small text under a lane's bar, cut to the column (the tooltip has all of it).
fn caption(svg: &mut String, col: &Column, top: f64, text: &str, class: &str) {
    let fits = ((col.w - 20.0) / 5.0) as usize;
    let _ = write!(
        svg,
        "<text class=\"caption {class}\" x=\"{}\" y=\"{}\"><title>{}</title>{}</text>",
        px(col.x + 10.0),
        px(top + LANE_H - 5.0),
        esc(text),
        esc(&cut(text, fits))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_one_fill_read_as_one_range() {
        let pieces = [
            Piece::Bytes {
                start: 0,
                end: 16,
                fate: Fill::Kept,
            },
            Piece::Bytes {
                start: 16,
                end: 32,
                fate: Fill::Kept,
            },
            Piece::Bytes {
                start: 32,
                end: 48,
                fate: Fill::TornZeros,
            },
            Piece::SetLen {
                len: 8,
                kept: false,
            },
        ];
        assert_eq!(
            pieces_caption(&pieces),
            "kept 0..32, torn 32..48 (zeros), resize 8 dropped"
        );
    }
}
