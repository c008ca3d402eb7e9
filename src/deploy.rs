//! `gate`'s deploy command. It runs in its own process group (holding the terminal when
//! preflight has one), so a signal reaches it only through preflight: Ctrl-C or SIGTERM is
//! forwarded, the deploy gets `--deploy-stop-timeout` to stop cleanly, then its whole group
//! is killed. It does not carry the run marker: what it starts on purpose may outlive the run.

use std::time::Duration;

use crate::exit;
use crate::signals::Interrupts;

/// Runs `argv` (named `shown` in messages: redacted) with inherited stdio; returns its exit
/// status (128 + N when a signal ended it), or 130 when it had to be killed.
pub async fn run(
    argv: &[String],
    shown: &str,
    stop_timeout: Duration,
    interrupts: &mut Interrupts,
) -> i32 {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .process_group(0)
        .env_remove(crate::leftovers::MARKER_VAR);
    // If preflight is SIGKILLed, the deploy gets SIGTERM: the same chance to stop cleanly.
    crate::process::die_with_preflight(&mut cmd, libc::SIGTERM);
    let terminal = owns_terminal();
    if terminal {
        // SAFETY: runs in the forked child before exec; only async-signal-safe calls.
        unsafe {
            cmd.pre_exec(|| {
                take_terminal();
                Ok(())
            });
        }
    }
    interrupts.mark_seen();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let first = shown.split(' ').next().unwrap_or_default();
            eprintln!("error: {}", crate::process::spawn_error(first, &e));
            return exit::FAILED;
        }
    };
    let Some(pgid) = child.id().map(|p| p as i32) else {
        return exit::FAILED;
    };
    if terminal {
        // Also from this side: whichever runs first, the deploy holds the terminal.
        // SAFETY: tcsetpgrp on stdin, which is a terminal preflight holds in the foreground.
        unsafe {
            libc::tcsetpgrp(0, pgid);
        }
    }
    let group = |sig: i32| {
        // SAFETY: kill(2) of the deploy's own process group.
        unsafe {
            libc::kill(-pgid, sig);
        }
    };
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut killed = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            (signo, _) = interrupts.next() => {
                if deadline.is_none() {
                    let name = if signo == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
                    eprintln!(
                        "gate: forwarding {name} to `{shown}`; waiting up to {} for it to stop (Ctrl-C again to kill it now)",
                        humantime::format_duration(stop_timeout)
                    );
                    group(signo);
                    deadline = Some(tokio::time::Instant::now() + stop_timeout);
                } else if !killed {
                    eprintln!("gate: killing `{shown}` now");
                    group(libc::SIGKILL);
                    killed = true;
                }
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() && !killed => {
                eprintln!(
                    "gate: `{shown}` did not stop within {}: killing its process group",
                    humantime::format_duration(stop_timeout)
                );
                group(libc::SIGKILL);
                killed = true;
            }
        }
    };
    // Whatever it left in its group goes with it.
    group(libc::SIGKILL);
    if terminal {
        give_back_terminal();
    }
    match status {
        Ok(_) if killed => exit::INTERRUPTED,
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        }
        Err(e) => {
            eprintln!("error: waiting for `{shown}`: {e}");
            exit::FAILED
        }
    }
}

/// Whether stdin is a terminal and preflight's process group is in its foreground.
fn owns_terminal() -> bool {
    // SAFETY: isatty/tcgetpgrp/getpgrp read state; no memory is involved.
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// In the child: makes its new process group the terminal's foreground group, so that it can
/// read the terminal and gets the terminal's Ctrl-C itself. A background group must block
/// SIGTTOU to do that.
fn take_terminal() {
    // SAFETY: async-signal-safe calls on the child's own signal mask and terminal.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTTOU);
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        libc::tcsetpgrp(0, libc::getpgrp());
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// Makes preflight's group the terminal's foreground group again (ignoring the SIGTTOU a
/// background group gets for it).
fn give_back_terminal() {
    // SAFETY: swaps the SIGTTOU disposition around one tcsetpgrp call and restores it.
    unsafe {
        let old = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::tcsetpgrp(0, libc::getpgrp());
        libc::signal(libc::SIGTTOU, old);
    }
}
