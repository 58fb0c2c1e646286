//! Data: IDX files and MNIST ([`files`]), the batch loader ([`loader`]).

mod files;
mod loader;
