//! Data: IDX files and MNIST ([`files`]), the batch loader ([`loader`]), transforms and
//! the generic loader ([`transforms`]).

mod files;
mod loader;
mod transforms;
