//! mdz-callback's integration tests, one binary (as mdBook's testsuite): the service, the
//! simulator and their dependencies are linked once instead of once per file, and the shared
//! helpers (a signed-in browser, the simulator, CSRF from a page, the real binary as a child
//! process) live in [`common`].

mod ambiguous;
mod assets;
mod attacks;
mod binary;
mod common;
mod demo;
mod drafts;
mod fuzz_corpora;
mod http_limits;
mod media;
mod nginx;
mod preflight;
mod process_faults;
mod records;
mod resume;
mod robustness;
mod rotate_key;
mod signin;
mod sim_contract;
mod sim_webhooks;
mod uploads;
mod webhook;
