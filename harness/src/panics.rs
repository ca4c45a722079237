//! Catching a store's panic as a violation: one line naming where it panicked, no backtrace.
//!
//! A panic inside a store call is a finding about the store (redb panics on some damaged pages),
//! not a crash of the tool. [`catch`] runs a closure with a process-wide panic hook that, on the
//! calling thread only, records the panic's location instead of printing a backtrace; panics
//! anywhere else still reach the previous hook as usual.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LOCATION.with(|l| *l.borrow_mut() = Some(at));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it comes back as `Err("<message> (at file:line)")`.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    let was = CATCHING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    result.map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".to_string());
        match LOCATION.with(|l| l.borrow_mut().take()) {
            Some(at) if !at.is_empty() => format!("{msg} (at {at})"),
            _ => msg,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_comes_back_with_its_location_and_the_thread_goes_on() {
        let err = catch(|| -> u8 { panic!("boom") }).unwrap_err();
        assert!(err.starts_with("boom (at "), "{err}");
        assert!(err.contains("panics.rs"), "{err}");
        assert_eq!(catch(|| 7), Ok(7));
    }
}
