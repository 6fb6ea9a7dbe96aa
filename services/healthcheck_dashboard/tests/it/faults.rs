//! The binary under faults: a task that dies (supervision), a second instance on one data
//! directory, a damaged database file, and SQLite failing underneath a running service
//! (read-only mount, full disk, a lock held by another process) while SIGTERM must still
//! end it within 10 s. Mounting needs root; without it these fail under `CI=true` and are
//! skipped loudly elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use service_kit_testing::binary::{self, free_port, wait_until_answers, write_config};

const BINARY: &str = env!("CARGO_BIN_EXE_healthcheck_dashboard");

/// Three checks every second, so the history writer writes all the time.
const BUSY_CONFIG: &str = r#"
[checks]
interval_secs = 1
endpoints = [
  { name = "a", type = "command", command = "true" },
  { name = "b", type = "command", command = "false" },
  { name = "c", type = "tcp", url = "127.0.0.1:9" },
]
"#;

/// The binary on a free port with `data_dir`, its stderr in a file of the temp directory.
struct Running {
    child: Child,
    base: String,
    stderr: PathBuf,
    _config: tempfile::NamedTempFile,
}

fn start(data_dir: &Path, envs: &[(&str, &str)]) -> Running {
    let config = write_config(BUSY_CONFIG);
    let port = free_port();
    let stderr = std::env::temp_dir().join(format!("healthcheck-faults-{port}.log"));
    let mut command = Command::new(BINARY);
    command
        .arg("--config")
        .arg(config.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    for (name, value) in envs {
        command.env(name, value);
    }
    Running {
        child: command.spawn().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
        stderr,
        _config: config,
    }
}

impl Running {
    fn wait_until_up(&self) {
        wait_until_answers(&format!("{}/livez", self.base), Duration::from_secs(10));
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the process to exit by itself, at most `within`.
    fn exit_status(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// `GET /livez` with a plain socket: the status code and the body.
fn livez(base: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let authority = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET /livez HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[test]
#[cfg(debug_assertions)]
fn a_task_that_dies_turns_livez_503_and_the_process_exits_non_zero() {
    let data = tempfile::tempdir().unwrap();
    let mut running = start(data.path(), &[("HEALTHCHECK_INJECT_FAULT", "scheduler")]);
    running.wait_until_up();
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        match livez(&running.base) {
            (503, body) => break body,
            (200, _) => {}
            (code, body) => panic!("/livez answered {code}: {body}"),
        }
        assert!(Instant::now() < deadline, "/livez never turned 503");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Open to anyone, so it says nothing but its status.
    assert_eq!(body.trim(), r#"{"status":"failed"}"#);
    let status = running.exit_status(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", running.log());
    let log = running.log();
    assert!(
        log.contains("A task of the service failed") && log.contains("injected fault"),
        "{log}"
    );
    assert_eq!(
        log.lines().last().unwrap(),
        "healthcheck_dashboard failed: serving: the scheduler task panicked: injected fault \
         (HEALTHCHECK_INJECT_FAULT=scheduler)",
        "one line, each cause once: {log}"
    );
}

#[test]
fn a_second_instance_on_the_same_data_directory_exits_with_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    let first = start(data.path(), &[]);
    first.wait_until_up();
    let mut second = start(data.path(), &[]);
    let status = second.exit_status(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    let log = second.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("is in use by another running instance"),
        "{log}"
    );
    // The first goes on undisturbed.
    assert_eq!(livez(&first.base).0, 200);
}

#[test]
fn a_damaged_database_is_kept_aside_and_the_service_comes_up() {
    let data = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..64 * 1024).map(|_| fastrand::u8(..)).collect();
    std::fs::write(data.path().join("healthcheck.sqlite"), garbage).unwrap();
    let mut running = start(data.path(), &[]);
    running.wait_until_up();
    let kept: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("healthcheck.sqlite.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(running.log().contains("damaged"), "{}", running.log());
    assert_eq!(binary::terminate(&mut running.child).code(), Some(0));
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one of `size` (such as `1m`), or reports why not under the component rule.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        service_kit_testing::require_component(
            "mounting a tmpfs",
            mounted,
            "these tests need root (mount -t tmpfs) to make SQLite fail for real",
        )
        .then_some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount_read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount read-only failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Runs the service on `data`, lets it write history, applies `fault`, lets it fail a few
/// times, and asserts that SIGTERM then ends it cleanly within 10 s.
fn sigterm_is_obeyed_while(data: &Path, fault: impl FnOnce(&Path)) -> String {
    let mut running = start(data, &[]);
    running.wait_until_up();
    std::thread::sleep(Duration::from_secs(2));
    fault(data);
    std::thread::sleep(Duration::from_secs(3));
    // Failing storage does not take the service down: it still answers.
    assert_eq!(livez(&running.base).0, 200, "{}", running.log());
    let started = Instant::now();
    let status = binary::terminate(&mut running.child);
    assert_eq!(status.code(), Some(0), "{}", running.log());
    assert!(started.elapsed() < Duration::from_secs(10));
    running.log()
}

#[test]
fn a_data_directory_turned_read_only_stops_the_next_start_with_one_clear_line() {
    // A file system cannot turn read-only under SQLite's open files (the kernel refuses the
    // remount while they are open for writing), so the service meets it at its next start.
    let Some(tmpfs) = Tmpfs::mount("8m") else {
        return;
    };
    let mut running = start(tmpfs.path(), &[]);
    running.wait_until_up();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(binary::terminate(&mut running.child).code(), Some(0));
    drop(running);
    tmpfs.remount_read_only();
    let mut again = start(tmpfs.path(), &[]);
    let status = again.exit_status(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    let log = again.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("Read-only file system"), "{log}");
}

#[test]
fn sigterm_exits_in_time_while_the_disk_is_full() {
    let Some(tmpfs) = Tmpfs::mount("1m") else {
        return;
    };
    let log = sigterm_is_obeyed_while(tmpfs.path(), |dir| {
        // Fill what is left of the file system.
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=4k"])
            .arg(format!("of={}", dir.join("filler").display()))
            .stderr(Stdio::null())
            .status();
    });
    assert!(log.contains("Could not store check history"), "{log}");
}

#[test]
fn sigterm_exits_in_time_while_another_process_holds_the_database_lock() {
    let data = tempfile::tempdir().unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let database = data.path().join("healthcheck.sqlite");
    let log = sigterm_is_obeyed_while(data.path(), |_| {
        std::thread::spawn(move || {
            // In this test process: a writer lock that really belongs to another process.
            let connection = rusqlite::Connection::open(&database).unwrap();
            connection.execute_batch("BEGIN EXCLUSIVE").unwrap();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
            drop(connection);
        });
        locked_rx.recv().unwrap();
    });
    let _ = release_tx.send(());
    assert!(log.contains("database is locked"), "{log}");
}
