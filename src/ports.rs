//! One wording for a port that cannot be listened on, used by `mdz serve`, `mdz-callback serve`
//! and `mdz-callback demo`: the bare OS message ("Address already in use") says neither which
//! address nor what to do.

use std::io;

/// What to tell a person whose program could not listen on `addr`; `choose` says how that
/// program is given another address (its flag or setting).
pub fn listen_error(addr: &str, e: &io::Error, choose: &str) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: another program is using it\n  help: stop that program (`ss -ltnp` shows which) or {choose}"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr}: permission denied\n  help: ports below 1024 need privileges; {choose}"
        ),
        io::ErrorKind::AddrNotAvailable => {
            format!("cannot listen on {addr}: this machine has no such address\n  help: {choose}")
        }
        _ => format!("cannot listen on {addr}: {e}\n  help: {choose}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_port_names_the_address_and_the_way_out() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = busy.local_addr().unwrap().to_string();
        let e = std::net::TcpListener::bind(&addr).unwrap_err();
        let said = listen_error(&addr, &e, "choose another with --port N");
        assert!(said.contains(&addr), "{said}");
        assert!(said.contains("another program is using it"), "{said}");
        assert!(said.ends_with("or choose another with --port N"), "{said}");
    }
}
