//! Data: synthetic tasks for examples and tests (MNIST and image loading come later).

pub mod synthetic;
