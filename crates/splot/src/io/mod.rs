//! Files: weights as safetensors with PyTorch `state_dict` names ([`save_module`],
//! [`load_module`], [`save`], [`load`]), and atomic writes ([`write_atomic`]) so that a
//! crash never leaves a half-written file.
//!
//! ```
//! use splot::nn::{Linear, Sequential};
//! use splot::{io, Rng};
//! use std::collections::BTreeMap;
//! # let dir = std::env::temp_dir().join(format!("splot-doc-io-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let mut rng = Rng::seed(0);
//! let net = Sequential::new().push(Linear::new(4, 2, &mut rng)?);
//! let path = dir.join("net.safetensors");
//! let meta = BTreeMap::from([("epoch".to_string(), "3".to_string())]);
//! io::save_module(&path, &net, &meta)?;
//!
//! let other = Sequential::new().push(Linear::new(4, 2, &mut rng)?);
//! assert_eq!(io::load_module(&path, &other)?, meta);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), splot::Error>(())
//! ```

mod atomic;
pub mod safetensors;

pub use self::atomic::write_atomic;
pub use self::safetensors::{
    load, load_module, load_module_with, save, save_module, state_dict, LoadOptions, LoadReport,
    Metadata, NamedTensors,
};
