//! The generator: load -> markdown -> render -> write.
