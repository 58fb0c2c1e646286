//! The padding tables as pictures.
