//! The layer diagram.
