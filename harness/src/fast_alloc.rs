//! mimalloc as a global allocator, for the `powercut` and `powercut-bench` binaries (feature
//! `fast-alloc`, on by default).
//!
//! A simulated run allocates for nearly every operation (about 5,000 allocations per seeded
//! run), so the allocator's fast path is on the hot path. The `mimalloc` crate's allocator asks
//! mimalloc for an explicitly aligned block on every call, a path about 20 instructions longer
//! than plain `mi_malloc`; almost every Rust allocation needs no more alignment than `malloc`
//! gives anyway. [`Mimalloc`] takes the plain path whenever that alignment suffices, by the
//! same rule the standard library's `System` allocator uses for `malloc`, and the aligned path
//! otherwise. 3% fewer instructions on `powercut-bench --seeds 200` than the `mimalloc` crate's.
//!
//! The library never installs it; a binary (or a test binary of a user who runs Powercut
//! in-process) opts in with
//! `#[global_allocator] static ALLOC: powercut::fast_alloc::Mimalloc = powercut::fast_alloc::Mimalloc;`.

// This module is the harness's only `unsafe` code: `GlobalAlloc` is an unsafe trait and the
// allocator is reached through C functions.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The alignment C's `malloc` guarantees for every block: that of `max_align_t` (16 bytes on
/// the 64-bit targets named, 8 elsewhere, as in the standard library's `System` allocator).
const MALLOC_ALIGN: usize = if cfg!(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "loongarch64",
    target_arch = "powerpc64",
    target_arch = "riscv64",
    target_arch = "s390x",
    target_arch = "sparc64",
)) {
    16
} else {
    8
};

/// Whether a block from plain `mi_malloc(size)` is aligned enough for `align`. mimalloc is a
/// conforming `malloc` (it can replace the C library's), so its blocks are aligned to
/// `max_align_t`; like `System`, the plain path is also limited to `align <= size`, because a
/// `malloc` may hand a block smaller than `max_align_t` a smaller alignment.
fn plain_suffices(align: usize, size: usize) -> bool {
    align <= MALLOC_ALIGN && align <= size
}

/// mimalloc, reached through its plain entry points when they give the alignment asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mimalloc;

// SAFETY: every method forwards to the mimalloc function with the same contract as the
// `GlobalAlloc` method, on the same arguments:
// - `alloc` and `alloc_zeroed` return null on failure, or a fresh block of at least
//   `layout.size()` bytes (zeroed for `alloc_zeroed`) aligned to `layout.align()`: by
//   `plain_suffices` when the plain function is used, because the aligned function guarantees
//   it otherwise.
// - `dealloc` receives only pointers this allocator returned (the `GlobalAlloc` contract), all
//   of which come from mimalloc, and `mi_free` releases any mimalloc block whatever its
//   alignment.
// - `realloc` keeps the contents up to the smaller size, leaves the old block untouched when
//   it returns null, and gives a block aligned to `layout.align()` (the alignment does not
//   change in a `GlobalAlloc::realloc`) by the same choice on `new_size`.
// No method panics or unwinds, and none allocates through the global allocator.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl; the functions take any size and alignment.
        unsafe {
            if plain_suffices(layout.align(), layout.size()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain_suffices(layout.align(), layout.size()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc (see the impl).
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (the caller's contract); the
        // new block's alignment is chosen as in `alloc`, for the new size.
        unsafe {
            if plain_suffices(layout.align(), new_size) {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block is aligned as asked, plain path or not, through alloc, zeroed alloc and
    /// growing and shrinking reallocs, and zeroed blocks are zero.
    #[test]
    fn blocks_have_the_alignment_and_contents_asked_for() {
        let a = Mimalloc;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 8, 15, 16, 24, 40, 100, 1000, 70_000] {
                let layout = Layout::from_size_align(size, align).expect("valid layout");
                // SAFETY: non-zero sizes; each block is freed once with its own layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "alloc size {size} align {align}");
                    p.write_bytes(0xab, size);
                    let grown = size * 3 + 1;
                    let q = a.realloc(p, layout, grown);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "growing {size} align {align}");
                    assert!(
                        (0..size).all(|i| *q.add(i) == 0xab),
                        "growing kept contents"
                    );
                    let shrunk = (size / 2).max(1);
                    let grown_layout = Layout::from_size_align(grown, align).expect("valid");
                    let r = a.realloc(q, grown_layout, shrunk);
                    assert!(!r.is_null());
                    assert_eq!(r as usize % align, 0, "shrinking {size} align {align}");
                    assert!(
                        (0..shrunk).all(|i| *r.add(i) == 0xab),
                        "shrinking kept contents"
                    );
                    a.dealloc(r, Layout::from_size_align(shrunk, align).expect("valid"));
                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null());
                    assert_eq!(
                        z as usize % align,
                        0,
                        "alloc_zeroed size {size} align {align}"
                    );
                    assert!((0..size).all(|i| *z.add(i) == 0), "zeroed");
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
