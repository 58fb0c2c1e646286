//! Atomic file writes: write a temporary file beside the destination, flush and fsync it,
//! then rename it over the destination. A reader (or a crash) sees either the old file
//! or the whole new one, never half of it.

use crate::error::{Error, Result};
use std::fs::{self, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temporary file when dropped, unless it has been renamed into place.
/// Covers every early return and a panic inside the writer's closure.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes the file at `path` atomically.
///
/// `write` receives a buffered writer into a temporary file in the same directory
/// (`.{name}.tmp-{pid}-{counter}`, created fresh so that it never clobbers another
/// writer's). When `write` succeeds the file is flushed and fsynced, takes the permissions
/// of the file it replaces (if any), and is renamed over `path`; on Unix the directory is
/// then fsynced, best effort, so that the rename itself survives a crash.
///
/// If `write` fails (its error is returned as it is) or any step fails, the temporary
/// file is removed and a previous file at `path` is left untouched. I/O errors are
/// [`Error::Io`] naming `path`.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("splot-doc-atomic-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("hello.txt");
/// splot::io::write_atomic(&path, |w| {
///     w.write_all(b"hello").map_err(|e| splot::Error::io(&path, e))
/// })?;
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), splot::Error>(())
/// ```
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let io_err = |source: std::io::Error| Error::io(path, source);
    let name = path.file_name().ok_or_else(|| {
        io_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path (it has no file name)",
        ))
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp_path = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp_path)
        .map_err(io_err)?;
    let mut guard = TempGuard {
        path: temp_path,
        armed: true,
    };

    let mut writer = BufWriter::new(file);
    write(&mut writer)?;
    let file = writer.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    if let Ok(meta) = fs::metadata(path) {
        // Keep the permissions of the file being replaced; best effort.
        let _ = file.set_permissions(meta.permissions());
    }
    drop(file);

    fs::rename(&guard.path, path).map_err(io_err)?;
    guard.armed = false;
    sync_dir(dir);
    Ok(())
}

/// Fsyncs a directory so that a rename inside it is durable (Unix only; best effort).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
