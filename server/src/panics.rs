//! What the server does when a task panics: one `ERROR` line in the log (the message, where, and
//! the thread), never a backtrace, whatever `RUST_BACKTRACE` says.
//!
//! Rust's own hook prints a backtrace when `RUST_BACKTRACE` is set, and resolving it reads the
//! binary's debug information and keeps it: one panic under `make bench` (inside Leptos, most
//! likely a page render whose client went away; see the README) raised the server's resident
//! memory by about 40 MiB for good (33 MiB anonymous, 8 MiB of the binary's pages), past measure
//! 5's budget. The location and message find the code; the log stays one line per event.
use std::panic::PanicHookInfo;

/// Replaces the process's panic hook (see the module documentation).
pub fn install() {
    std::panic::set_hook(Box::new(log));
}

fn log(info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let thread = std::thread::current();
    tracing::error!(thread = thread.name().unwrap_or("unnamed"), %location, "panicked: {message}");
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_is_one_error_line_with_its_message_and_place_even_when_rust_backtrace_asks_for_more() {
        std::env::set_var("RUST_BACKTRACE", "full");
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        super::install();
        // (the panic is on the line after this one)
        let line = line!() + 1;
        let caught = tracing::subscriber::with_default(subscriber, || std::panic::catch_unwind(|| panic!("Tried to access a reactive value that has already been disposed.")));
        let _ = std::panic::take_hook();
        assert!(caught.is_err());
        let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains(" ERROR "), "{log}");
        assert!(log.contains("panicked: Tried to access a reactive value that has already been disposed."), "{log}");
        assert!(log.contains(&format!("location=server/src/panics.rs:{line}")), "{log}");
        assert!(!log.contains("stack backtrace") && !log.contains("rust_begin_unwind"), "{log}");
    }
}
