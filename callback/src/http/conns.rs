//! The connection table: at most a fixed number of open client connections, and when it is full
//! a new connection takes the place of the oldest one that is not inside a request (an idle
//! keep-alive connection, or one still dribbling its request head). Idle connections are cheap to
//! open and free to hold, so a flood of them must never keep a real request (or `/healthz`)
//! waiting; a connection whose request is being handled is never cut.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::task::AbortHandle;

pub struct Conns {
    max: usize,
    table: Mutex<Table>,
    /// Signalled when a connection closes, for an accept loop waiting for room.
    freed: Notify,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// Open connections by id; ids grow, so the first entries are the oldest.
    open: BTreeMap<u64, Slot>,
    evicted: u64,
}

struct Slot {
    busy: Arc<AtomicBool>,
    /// The connection's task, cancelled to evict it. Cancelling, rather than a signal the task
    /// waits for beside its connection, costs nothing per request: a `select!` on such a signal
    /// polled it at every wake-up of every connection.
    task: Option<AbortHandle>,
}

/// One admitted connection. Dropping it gives its place back.
pub struct Admitted {
    conns: Arc<Conns>,
    id: u64,
    busy: Arc<AtomicBool>,
}

/// Marks its connection as inside a request until dropped.
pub struct Busy(Arc<AtomicBool>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Conns {
    pub fn new(max: usize) -> Arc<Conns> {
        Arc::new(Conns {
            max: max.max(1),
            table: Mutex::new(Table::default()),
            freed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new connection: a free one, or the place of the oldest idle connection
    /// (whose task is cancelled, which closes it). `None` when every open connection is inside a request; wait
    /// for [`Conns::freed`] and try again.
    pub fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut t = self.lock();
        if t.open.len() >= self.max {
            let oldest_idle = t
                .open
                .iter()
                .find(|(_, s)| !s.busy.load(Ordering::Acquire))
                .map(|(id, _)| *id)?;
            if let Some(slot) = t.open.remove(&oldest_idle) {
                if let Some(task) = slot.task {
                    task.abort();
                }
                t.evicted += 1;
                tracing::debug!("idle connection closed to make room");
            }
        }
        let id = t.next_id;
        t.next_id += 1;
        let busy = Arc::new(AtomicBool::new(false));
        t.open.insert(
            id,
            Slot {
                busy: busy.clone(),
                task: None,
            },
        );
        Some(Admitted {
            conns: self.clone(),
            id,
            busy,
        })
    }

    /// Names the task serving an admitted connection, so that it can be evicted. A connection
    /// that has already closed is not there any more, and nothing happens.
    pub fn attach(&self, admitted_id: u64, task: AbortHandle) {
        if let Some(slot) = self.lock().open.get_mut(&admitted_id) {
            slot.task = Some(task);
        }
    }

    /// Completes after a connection closed (or at once if one closed since the last wait).
    pub async fn freed(&self) {
        self.freed.notified().await;
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.lock().open.len()
    }

    /// Idle connections closed to make room, since start.
    #[cfg(test)]
    pub fn evicted(&self) -> u64 {
        self.lock().evicted
    }
}

impl Admitted {
    /// Call at the start of each request; the connection cannot be evicted while it is held.
    pub fn busy(&self) -> Busy {
        self.busy.store(true, Ordering::Release);
        Busy(self.busy.clone())
    }

    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.conns.lock().open.remove(&self.id);
        self.conns.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection task that holds its place until cancelled.
    fn serve(conns: &Arc<Conns>, admitted: Admitted) -> tokio::task::JoinHandle<()> {
        let id = admitted.id();
        let task = tokio::spawn(async move {
            let _held = admitted;
            std::future::pending::<()>().await;
        });
        conns.attach(id, task.abort_handle());
        task
    }

    async fn cancelled(task: tokio::task::JoinHandle<()>) -> bool {
        tokio::time::timeout(std::time::Duration::from_secs(1), task)
            .await
            .expect("the task ended")
            .is_err_and(|e| e.is_cancelled())
    }

    #[tokio::test]
    async fn a_full_table_evicts_the_oldest_idle_connection_and_never_a_busy_one() {
        let conns = Conns::new(3);
        let a = conns.admit().unwrap();
        let _in_request = a.busy();
        let a = serve(&conns, a);
        let b = serve(&conns, conns.admit().unwrap());
        let c = conns.admit().unwrap();
        let c_busy = c.busy();
        let c = serve(&conns, c);
        // Full: `a` is busy, so `b` (the oldest idle) makes room.
        let d = conns.admit().unwrap();
        assert_eq!(conns.open(), 3);
        assert_eq!(conns.evicted(), 1);
        assert!(cancelled(b).await, "b was closed");
        assert_eq!(conns.open(), 3, "b's place went to d");
        let d_busy = d.busy();
        let d = serve(&conns, d);
        assert!(conns.admit().is_none(), "every connection is in a request");
        drop(d_busy);
        let e = conns.admit().expect("d is idle again");
        assert_eq!(conns.evicted(), 2);
        assert!(cancelled(d).await, "d was closed");
        assert!(
            !a.is_finished() && !c.is_finished(),
            "busy ones are never cut"
        );
        drop((_in_request, c_busy, e));
        a.abort();
        c.abort();
        let _ = (a.await, c.await);
        assert_eq!(conns.open(), 0);
        tokio::time::timeout(std::time::Duration::from_secs(1), conns.freed())
            .await
            .expect("a close is signalled");
    }
}
