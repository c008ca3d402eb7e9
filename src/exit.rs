//! Exit codes: the gate's answer. Every exit of the binary uses one of these.

/// Every blocking item passed (for `gate`: and the deploy command succeeded).
pub const PASSED: i32 = 0;
/// A blocking item failed, errored, or was skipped because a need did not pass.
pub const FAILED: i32 = 1;
/// The checklist or the command line is invalid; nothing ran.
pub const INVALID: i32 = 2;
/// Interrupted (Ctrl-C / SIGTERM); the partial report was written.
pub const INTERRUPTED: i32 = 130;
