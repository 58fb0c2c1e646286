//! Data: IDX files and MNIST ([`files`]), the batch loader ([`loader`]), the readers of
//! standard layouts ([`readers`]).

mod files;
mod loader;
mod readers;
