//! The one database connection, owned by one thread that runs every store call in the order
//! they arrive. Calls that arrive together share one transaction, so one commit (one WAL sync
//! under `synchronous = FULL`) acknowledges all of them: the sync costs about as much as the
//! rest of a sign-in start put together, and paying it once per call bounded
//! `/auth/tiktok/start` below 5,000 requests/s (BENCHMARKS.md).
//!
//! Nothing is acknowledged before it is durable: a call's result is handed back only after the
//! commit of its batch succeeded, and if that commit fails every call in the batch gets the
//! error. Each call runs inside its own savepoint, so a call that fails (or panics) undoes only
//! its own changes and the others in its batch still commit.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{Cipher, StoreError};

/// Calls committed together at most. A batch is whatever is waiting when the previous commit
/// ends, so under light load every call still commits alone, at once.
const MAX_BATCH: usize = 128;

/// A call as the thread runs it, given the connection (or why the call cannot run): whether it
/// succeeded (to keep or undo its savepoint), and what to do once the batch's commit is known.
type Run = Box<dyn FnOnce(Result<(&mut Connection, &Cipher), &str>) -> (bool, Deliver) + Send>;
/// Hands the result to the caller; given the commit's error, if any.
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;

pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Run>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start(conn: Connection, cipher: Cipher) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel::<Run>();
        let thread = std::thread::Builder::new()
            .name("mdz-db".into())
            .spawn(move || work(conn, &cipher, &queue))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues `f` at once, in the order of the calls (not when the future is first polled),
    /// and completes with its result once its batch is committed.
    pub(super) fn call<R, F>(&self, f: F) -> impl Future<Output = Result<R, StoreError>> + use<R, F>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection, &Cipher) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let run: Run = Box::new(move |ready| {
            let result = match ready {
                Ok((conn, cipher)) => catch_unwind(AssertUnwindSafe(|| f(conn, cipher)))
                    .unwrap_or_else(|_| Err(StoreError::Worker("a database call panicked".into()))),
                Err(why) => Err(StoreError::NotCommitted(why.to_string())),
            };
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit_error| {
                let result = match (result, commit_error) {
                    (Ok(_), Some(e)) => Err(StoreError::NotCommitted(e.to_string())),
                    (result, _) => result,
                };
                // The caller may have gone away (its request was cancelled); nothing to do.
                let _ = tx.send(result);
            });
            (ok, deliver)
        });
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(run).is_ok());
        async move {
            if !sent {
                return Err(StoreError::Worker("the database thread has stopped".into()));
            }
            rx.await
                .map_err(|_| StoreError::Worker("the database thread has stopped".into()))?
        }
    }
}

impl Drop for Writer {
    /// Closing the queue ends the thread once it has run what is queued; waiting for it means
    /// the database is closed when the last `Store` is gone, as with a plain connection.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn work(mut conn: Connection, cipher: &Cipher, queue: &mpsc::Receiver<Run>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(run) => batch.push(run),
                Err(_) => break,
            }
        }
        commit_together(&mut conn, cipher, batch);
    }
}

fn commit_together(conn: &mut Connection, cipher: &Cipher, batch: Vec<Run>) {
    // IMMEDIATE: the write lock now, not halfway through a call (another process, such as
    // `mdz-callback purge`, may hold it; busy_timeout waits for it).
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = e.to_string();
        tracing::error!(error = %e, calls = batch.len(), "cannot start a database transaction");
        for run in batch {
            run(Err(&e)).1(None);
        }
        return;
    }
    let mut delivered = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    for run in batch {
        if broken.is_none() {
            if let Err(e) = conn.execute_batch("SAVEPOINT call") {
                broken = Some(e.to_string());
            }
        }
        if let Some(e) = &broken {
            delivered.push(run(Err(e)).1);
            continue;
        }
        let (ok, deliver) = run(Ok((&mut *conn, cipher)));
        let end = if ok {
            "RELEASE call"
        } else {
            "ROLLBACK TO call; RELEASE call"
        };
        if let Err(e) = conn.execute_batch(end) {
            broken = Some(e.to_string());
        }
        delivered.push(deliver);
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
    };
    if outcome.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(e) = &outcome {
        tracing::error!(error = %e, calls = delivered.len(), "a database batch was not committed");
    }
    let error = outcome.err();
    for deliver in delivered {
        deliver(error.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::TokenKey;

    /// A writer on a fresh database with a parent and a child table, and a second connection
    /// that sees only what was committed.
    fn writer() -> (tempfile::TempDir, Writer, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parent(id));
             CREATE TABLE t (v INTEGER NOT NULL UNIQUE);",
        )
        .unwrap();
        let w = Writer::start(conn, Cipher::new(&TokenKey::random())).unwrap();
        (dir, w, Connection::open(&path).unwrap())
    }

    fn committed(reader: &Connection) -> Vec<i64> {
        let mut stmt = reader.prepare("SELECT v FROM t ORDER BY v").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Holds the database thread inside a call, alone in its batch, until the returned sender
    /// is used: the calls made meanwhile queue up and then run as one batch.
    fn hold(w: &Writer) -> (std::sync::mpsc::Sender<()>, impl Future<Output = ()>) {
        let (started, running) = std::sync::mpsc::channel::<()>();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = w.call(move |_, _| {
            started.send(()).unwrap();
            held.recv().unwrap();
            Ok(())
        });
        running.recv().unwrap();
        (release, async move { first.await.unwrap() })
    }

    #[tokio::test]
    async fn a_failing_or_panicking_call_undoes_only_itself_and_its_batch_still_commits() {
        let (_d, w, reader) = writer();
        let (release, first) = hold(&w);
        let insert = |v: i64| {
            w.call(move |c, _| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                Ok(v)
            })
        };
        let one = insert(1);
        let dup = insert(1);
        let failing = w.call(|c, _| {
            // Half done, then an error: the half must not stay.
            c.execute("INSERT INTO t (v) VALUES (50)", [])?;
            c.execute("INSERT INTO nowhere VALUES (1)", [])?;
            Ok(())
        });
        let panicking = w.call(|c, _| -> Result<(), StoreError> {
            c.execute("INSERT INTO t (v) VALUES (60)", []).unwrap();
            panic!("a bug in a call");
        });
        let three = insert(3);
        release.send(()).unwrap();
        first.await;
        assert_eq!(one.await.unwrap(), 1);
        let dup = dup.await;
        assert!(matches!(dup, Err(StoreError::Sqlite(_))), "{dup:?}");
        let failing = failing.await;
        assert!(matches!(failing, Err(StoreError::Sqlite(_))), "{failing:?}");
        let panicking = panicking.await;
        assert!(
            matches!(panicking, Err(StoreError::Worker(_))),
            "{panicking:?}"
        );
        assert_eq!(three.await.unwrap(), 3);
        assert_eq!(committed(&reader), [1, 3]);
        // The thread lives on after the panic.
        assert_eq!(insert(4).await.unwrap(), 4);
        assert_eq!(committed(&reader), [1, 3, 4]);
    }

    #[tokio::test]
    async fn a_result_is_handed_back_only_once_committed_and_a_failed_commit_fails_the_whole_batch()
    {
        let (_d, w, reader) = writer();
        // Answered means committed: another connection sees it at once.
        w.call(|c, _| Ok(c.execute("INSERT INTO t (v) VALUES (1)", [])?))
            .await
            .unwrap();
        assert_eq!(committed(&reader), [1]);

        // A deferred foreign key is only checked at COMMIT, so this batch fails there, after
        // every call in it has run and succeeded.
        let (release, first) = hold(&w);
        let good = w.call(|c, _| Ok(c.execute("INSERT INTO t (v) VALUES (2)", [])?));
        let bad = w.call(|c, _| {
            c.execute_batch("PRAGMA defer_foreign_keys = ON")?;
            Ok(c.execute("INSERT INTO child (id, parent) VALUES (1, 99)", [])?)
        });
        release.send(()).unwrap();
        first.await;
        let (good, bad) = (good.await, bad.await);
        assert!(matches!(good, Err(StoreError::NotCommitted(_))), "{good:?}");
        assert!(matches!(bad, Err(StoreError::NotCommitted(_))), "{bad:?}");
        assert_eq!(
            committed(&reader),
            [1],
            "nothing of the failed batch is kept"
        );

        // The next batch starts clean.
        w.call(|c, _| Ok(c.execute("INSERT INTO t (v) VALUES (3)", [])?))
            .await
            .unwrap();
        assert_eq!(committed(&reader), [1, 3]);
    }

    #[tokio::test]
    async fn many_concurrent_calls_all_commit_in_order() {
        let (_d, w, reader) = writer();
        let w = std::sync::Arc::new(w);
        let calls: Vec<_> = (0..500)
            .map(|v| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.call(move |c, _| Ok(c.execute("INSERT INTO t (v) VALUES (?1)", [v])?))
                        .await
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(committed(&reader), (0..500).collect::<Vec<i64>>());
    }
}
