//! What the targets share: a scratch directory of this process (in memory where the
//! system has one) for the readers that take a path.

use std::path::PathBuf;

/// This process's scratch directory (under `SPLOT_FUZZ_SCRATCH` when set), made once.
pub fn scratch() -> PathBuf {
    let base = if let Some(dir) = std::env::var_os("SPLOT_FUZZ_SCRATCH") {
        PathBuf::from(dir)
    } else if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("splot-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Writes `bytes` to `name` in the scratch directory and returns its path.
pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("scratch subdirectory");
    }
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// Splits `data` at the first `sep` byte sequence: (before, after), or (data, empty).
pub fn split<'a>(data: &'a [u8], sep: &[u8]) -> (&'a [u8], &'a [u8]) {
    match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (&data[..i], &data[i + sep.len()..]),
        None => (data, &[]),
    }
}
