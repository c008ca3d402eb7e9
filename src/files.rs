//! Writing the files preflight produces: reports, lock files.

use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temp file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with_mode(path, bytes, None)
}

fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("report"),
        std::process::id()
    ));
    let written = std::fs::write(&tmp, bytes).and_then(|()| match mode {
        Some(m) => std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m)),
        None => Ok(()),
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// Writes a report to `path` the way a shell redirection would, without ever replacing
/// something that is not a regular file: `-` (and `/dev/stdout`, `/dev/fd/N`) is that file
/// descriptor; a symlink is followed and its target written; a device, FIFO or socket is
/// written straight through; a regular file (or a new one) is replaced atomically.
pub fn write_report(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match resolve(path)? {
        Target::Fd(fd) => write_fd(fd, bytes),
        Target::Path(target) => match std::fs::metadata(&target) {
            Ok(m) if m.is_dir() => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory",
            )),
            Ok(m) if m.is_file() => {
                write_atomic_with_mode(&target, bytes, Some(m.permissions().mode()))
            }
            Ok(m) if m.file_type().is_socket() => {
                let mut s = std::os::unix::net::UnixStream::connect(&target)?;
                s.write_all(bytes)?;
                s.shutdown(std::net::Shutdown::Write)
            }
            // Character and block devices, FIFOs.
            Ok(_) => {
                let mut f = std::fs::OpenOptions::new().write(true).open(&target)?;
                f.write_all(bytes)?;
                f.flush()
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => write_atomic(&target, bytes),
            Err(e) => Err(e),
        },
    }
}

/// Whether two report paths name the same destination.
pub fn same_destination(a: &Path, b: &Path) -> bool {
    let key = |p: &Path| match resolve(p) {
        Ok(Target::Fd(fd)) => format!("fd:{fd}"),
        Ok(Target::Path(t)) => {
            let abs = std::path::absolute(&t).unwrap_or(t);
            let parent = abs
                .parent()
                .and_then(|d| std::fs::canonicalize(d).ok())
                .unwrap_or_default();
            parent
                .join(abs.file_name().unwrap_or_default())
                .display()
                .to_string()
        }
        Err(_) => p.display().to_string(),
    };
    key(a) == key(b)
}

enum Target {
    Fd(i32),
    Path(PathBuf),
}

/// Follows symlinks (up to 40, like the kernel) until a path that is not one, or one of the
/// names of an open file descriptor.
fn resolve(path: &Path) -> io::Result<Target> {
    if path == Path::new("-") {
        return Ok(Target::Fd(1));
    }
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        if let Some(fd) = fd_name(&p) {
            return Ok(Target::Fd(fd));
        }
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(Target::Path(p)),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: the descriptor they name.
fn fd_name(p: &Path) -> Option<i32> {
    let s = p.to_str()?;
    match s {
        "/dev/stdout" => return Some(1),
        "/dev/stderr" => return Some(2),
        _ => {}
    }
    let own = format!("/proc/{}/fd/", std::process::id());
    [
        "/dev/fd/",
        "/proc/self/fd/",
        "/proc/thread-self/fd/",
        own.as_str(),
    ]
    .iter()
    .find_map(|prefix| s.strip_prefix(prefix))
    .and_then(|n| n.parse().ok())
}

/// Writes to one of preflight's own open descriptors (as `>&N` in a shell would).
fn write_fd(fd: i32, bytes: &[u8]) -> io::Result<()> {
    if fd == 1 {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        return out.flush();
    }
    if fd == 2 {
        return io::stderr().lock().write_all(bytes);
    }
    // SAFETY: `fd` is checked to be open by fcntl before it is borrowed, and only for the
    // duration of the dup below.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut f = std::fs::File::from(borrowed.try_clone_to_owned()?);
    debug_assert_ne!(f.as_raw_fd(), fd);
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_followed_and_special_names_are_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.json");
        let link = dir.path().join("l.json");
        std::os::unix::fs::symlink("t.json", &link).unwrap();
        write_report(&link, b"one").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"one");
        assert!(same_destination(&link, &target));
        assert!(same_destination(Path::new("-"), Path::new("/dev/stdout")));
        assert!(!same_destination(Path::new("a.xml"), Path::new("b.xml")));
        assert!(write_report(dir.path(), b"x").is_err());
    }
}
