//! [`AppendWriter`]: a [`std::io::Write`] over a [`File`], for stores that append records.
//!
//! Every store on the seam needs the same shim: keep a position, hand each buffer to
//! [`File::write_at`] there, move the position on. Having it here means a store's log writer can
//! use `write_all`, `write!` or an encoder that takes `impl Write`, and still go through the seam
//! the simulator watches.

use std::io;

use crate::File;

/// Writes at a moving position of a [`File`], straight through to [`File::write_at`].
///
/// There is no buffer in user space: bytes a `write` call accepted are in the "kernel" (the page
/// cache, or the simulator's live state) at once, so a process kill keeps them, and they are
/// durable only after [`AppendWriter::sync`]. So [`io::Write::flush`] does nothing, and calling it
/// makes nothing durable; a store that needs durability calls `sync`.
#[derive(Debug)]
pub struct AppendWriter {
    file: Box<dyn File>,
    /// Where the next write lands.
    pos: u64,
}

impl AppendWriter {
    /// A writer that appends at the file's current live length.
    pub fn new(file: Box<dyn File>) -> io::Result<AppendWriter> {
        let pos = file.len()?;
        Ok(AppendWriter { file, pos })
    }

    /// A writer whose next write lands at `pos` (for a log whose valid end recovery found short
    /// of the file's length, so that the garbage after it is overwritten).
    pub fn at(file: Box<dyn File>, pos: u64) -> AppendWriter {
        AppendWriter { file, pos }
    }

    /// Where the next write lands: the position given at construction plus every byte written.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Makes every byte written so far durable ([`File::sync`]); the file's name is durable only
    /// after `sync_dir` of its parent.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync()
    }

    /// The file written to, for reads or a `set_len` that the writer does not know about.
    pub fn file(&self) -> &dyn File {
        self.file.as_ref()
    }

    /// Gives the file back.
    pub fn into_inner(self) -> Box<dyn File> {
        self.file
    }
}

impl io::Write for AppendWriter {
    /// Writes all of `buf` at the position and moves the position past it; on an error the
    /// position stays where it was (what a failed write left on a real disk is unknown).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            // Nothing to hand down; the simulator would log an empty write as an operation.
            return Ok(0);
        }
        let end = self.pos.checked_add(buf.len() as u64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "write would pass the largest file offset",
            )
        })?;
        self.file.write_at(self.pos, buf)?;
        self.pos = end;
        Ok(buf.len())
    }

    /// Does nothing: there is no user-space buffer, and flushing is not syncing.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
