//! The generator's integration tests, one binary (as mdBook's testsuite): each module links the
//! same `mdz` once instead of once per file, and helpers live in [`support`].

mod build;
mod contract;
mod deploy;
mod editor;
mod support;
