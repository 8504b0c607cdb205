//! What the benchmark examples read of a process from `/proc` (Linux only, like the benches).

/// `VmHWM` or `VmRSS` (the field name with its colon) of a process, in KiB; 0 when unreadable.
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
