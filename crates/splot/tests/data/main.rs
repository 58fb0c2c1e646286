//! Data: IDX files and MNIST ([`files`]), the batch loader ([`loader`]), the readers of
//! standard layouts ([`readers`]), transforms and the generic loader ([`transforms`]).

mod files;
mod loader;
mod readers;
mod transforms;
