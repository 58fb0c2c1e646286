//! The one error type of the library: every mistake a user can make (a wrong shape, an
//! impossible configuration, a bad file) comes back as an [`Error`] that names the op, the
//! file or the shapes involved. Panics are kept for broken internal invariants.

use std::path::PathBuf;

/// Errors returned by splot.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Tensor shapes that do not fit the operation.
    #[error("{op}: {msg}")]
    Shape {
        /// The operation or layer that rejected the shapes.
        op: &'static str,
        /// What is wrong, with the shapes.
        msg: String,
    },
    /// A configuration that cannot work (zero stride, padding wider than the mode allows…).
    #[error("{op}: invalid configuration: {msg}")]
    Config {
        /// The operation or layer that rejected the configuration.
        op: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// Input text or a value that could not be parsed.
    #[error("{what}: {msg}")]
    Parse {
        /// What was being parsed.
        what: &'static str,
        /// What is wrong with it.
        msg: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file whose contents are wrong: corrupt, truncated, of an unsupported kind, or not
    /// matching what it is loaded into.
    #[error("{}: {msg}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// An error inside a layer of a network, with the layer's name.
    #[error("{layer}: {source}")]
    Layer {
        /// The layer's name and kind, e.g. `features.3 (Conv2d)`.
        layer: String,
        /// What went wrong inside it.
        source: Box<Error>,
    },
    /// An error while loading one sample of a dataset, naming the sample (its position in
    /// the dataset and, where the cause does not already, its file).
    #[error("{entry}: {source}")]
    Sample {
        /// The sample, e.g. `sample 17 (photos/cat/3.jpg)`.
        entry: String,
        /// What went wrong reading or transforming it.
        source: Box<Error>,
    },
    /// Gradient computation was asked for something it cannot do.
    #[error("backward: {0}")]
    Autograd(String),
    /// A tensor too large to allocate: its element count overflows, or its bytes exceed
    /// the machine's memory (see [`crate::tensor::size`]).
    #[error(
        "{op}: a tensor of shape {shape:?} would need {}, more than the {} this machine can hold",
        crate::tensor::size::format_bytes(*bytes),
        crate::tensor::size::format_bytes(*limit as u128)
    )]
    TooLarge {
        /// The op or layer that would allocate it.
        op: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// The bytes it would need (f32), saturated at `u128::MAX`.
        bytes: u128,
        /// The limit it exceeds ([`crate::tensor::size::max_tensor_bytes`]).
        limit: u64,
    },
}

impl Error {
    /// A shape error for `op`.
    pub fn shape(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Shape {
            op,
            msg: msg.into(),
        }
    }

    /// This error, said to have happened inside `layer`.
    pub fn in_layer(self, layer: impl Into<String>) -> Self {
        Error::Layer {
            layer: layer.into(),
            source: Box::new(self),
        }
    }

    /// An I/O error on the file at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error in the file at `path`.
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// A configuration error for `op`.
    pub fn config(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Config {
            op,
            msg: msg.into(),
        }
    }
}

/// `Result` with splot's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
