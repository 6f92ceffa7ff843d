//! What every measurement shares: the task, the options, and how the
//! bench gives up.

/// The command every task runs, and its shell.
pub(crate) const COMMAND: &str = "true";
pub(crate) const SHELL: &str = "bash";

pub(crate) struct Options {
    pub repeat: usize,
    pub quick: bool,
}

/// Gives up: unwinds to `main`, so that every daemon and floor process
/// started so far is stopped on the way (their `Drop`s), then exits 1.
pub(crate) fn fail(message: &str) -> ! {
    std::panic::resume_unwind(Box::new(Failure(message.to_string())))
}

/// Why the bench gave up.
pub(crate) struct Failure(pub String);
