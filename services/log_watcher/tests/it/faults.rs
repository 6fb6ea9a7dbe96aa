//! Faults, on the real binary: a task that dies ends the process non-zero; SIGTERM ends it
//! within 10 s while SQLite refuses to write (a lock held by another process, a full disk),
//! and whatever was not committed is read again, exactly once, after the fault is fixed; a
//! read-only data directory stops start-up with one line and loses nothing either; a second
//! instance on the same data directory is refused with one line; a damaged database file is
//! moved aside and the service comes up.
//!
//! The disk tests mount small file systems (a tmpfs; an ext4 image on a loop device, which
//! the kernel turns read-only under the running service when told of an error), which needs
//! root: without it they fail under `CI=true` and are skipped with a loud message otherwise.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use service_kit_testing::binary::{self, free_port, wait_until_answers, write_config};

use crate::support::{append, temp_dir};

const BINARY: &str = env!("CARGO_BIN_EXE_log_watcher");

/// The binary on `config` and `data`, its stderr in `stderr`; not waited for.
fn spawn(config: &Path, data: &Path, stderr: &Path, env: &[(&str, &str)]) -> (Child, u16) {
    let port = free_port();
    let mut command = Command::new(BINARY);
    for var in ["CONFIG_PATH", "LOG_FILTER", "DATA_DIR", "LOG_WATCHER_PORT"] {
        command.env_remove(var);
    }
    command
        .envs(env.iter().copied())
        .arg("--config")
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(File::create(stderr).unwrap());
    (command.spawn().unwrap(), port)
}

/// [`spawn`], then waits until it answers.
fn start(config: &Path, data: &Path, stderr: &Path) -> (Child, u16) {
    let (child, port) = spawn(config, data, stderr, &[]);
    wait_until_answers(
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    );
    (child, port)
}

/// Waits for `child` to exit by itself, for at most `within`.
fn exit_within(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A config following `log`, every line an event.
fn config_for(log: &Path) -> tempfile::NamedTempFile {
    write_config(&format!(
        "[log_sources]\nextra_files = [{:?}]\npoll_interval_ms = 50\n[filters]\nlevels = [\"error\"]\n[storage]\nring_size = 10000\n[summary]\ninterval_mins = 0\n",
        log.display().to_string()
    ))
}

/// Appends numbered error lines `range` to `log`, padded to about `width` bytes.
fn write_numbered(log: &Path, range: std::ops::Range<u32>, width: usize) {
    let mut text = String::new();
    for i in range {
        let line = format!("ERROR line {i:06} ");
        let pad = width.saturating_sub(line.len() + 1);
        text.push_str(&line);
        text.push_str(&"x".repeat(pad));
        text.push('\n');
    }
    append(log, &text);
}

/// The events the binary on `port` holds, until there are `count` or `within` passed.
fn stored(port: u16, count: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    loop {
        let body: serde_json::Value = runtime.block_on(async {
            reqwest::get(format!("http://127.0.0.1:{port}/logs?limit=10000"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        let messages: Vec<String> = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect();
        if messages.len() >= count || Instant::now() > deadline {
            return messages;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every line number in `0..count` is among `messages` exactly once.
fn assert_exactly_once(messages: &[String], count: u32) {
    let mut seen = vec![0u32; count as usize];
    for message in messages {
        let number: usize = message[5..11].parse().unwrap();
        seen[number] += 1;
    }
    let missing: Vec<usize> = (0..count as usize).filter(|n| seen[*n] == 0).collect();
    let repeated: Vec<usize> = (0..count as usize).filter(|n| seen[*n] > 1).collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(repeated.is_empty(), "repeated: {repeated:?}");
    assert_eq!(messages.len(), count as usize);
}

#[test]
fn a_task_that_dies_ends_the_process_non_zero_with_the_reason() {
    let (_guard, dir) = temp_dir();
    let log = dir.join("app.log");
    let config = config_for(&log);
    // The optional tasks run only when configured: the Docker Engine API source (on a
    // socket that is not there: it would retry, not end) and the deploy poller.
    let with_optional_tasks = write_config(&format!(
        "{}[log_sources.docker_api]\nsocket = {:?}\n[peers]\nwebhook_handler = \"http://127.0.0.1:9\"\n",
        std::fs::read_to_string(config.path()).unwrap(),
        dir.join("no-docker.sock").display().to_string(),
    ));
    for task in ["writer", "reader", "housekeeping", "docker_api", "deploys"] {
        let config = match task {
            "docker_api" | "deploys" => &with_optional_tasks,
            _ => &config,
        };
        let stderr = dir.join(format!("{task}.stderr"));
        let (mut child, _) = spawn(
            config.path(),
            &dir.join(format!("data-{task}")),
            &stderr,
            &[("LOG_WATCHER_INJECT_PANIC", task)],
        );
        let status = exit_within(&mut child, Duration::from_secs(10));
        let text = std::fs::read_to_string(&stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{task}: {text}");
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.contains(&format!("the {task} task panicked")),
            "{task}: {text}"
        );
    }
}

#[test]
fn a_second_instance_on_the_same_data_directory_exits_non_zero_with_one_clear_line() {
    let (_guard, dir) = temp_dir();
    let config = config_for(&dir.join("app.log"));
    let data = dir.join("data");
    let (mut first, _) = start(config.path(), &data, &dir.join("first.stderr"));
    let stderr = dir.join("second.stderr");
    let (mut second, _) = spawn(config.path(), &data, &stderr, &[]);
    let status = exit_within(&mut second, Duration::from_secs(10));
    let text = std::fs::read_to_string(&stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("another running instance"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(
        text.lines().last(),
        Some(lines[0]),
        "the last line says why: {text}"
    );
    assert!(lines[0].contains("log_watcher.sqlite"), "{text}");
    assert_eq!(binary::terminate(&mut first).code(), Some(0));
}

#[test]
fn a_damaged_database_is_moved_aside_with_a_warning_and_the_service_comes_up() {
    let (_guard, dir) = temp_dir();
    let log = dir.join("app.log");
    let config = config_for(&log);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("log_watcher.sqlite"), vec![0x5a_u8; 16384]).unwrap();
    let stderr = dir.join("stderr");
    let (mut child, port) = start(config.path(), &data, &stderr);
    write_numbered(&log, 0..10, 40);
    assert_exactly_once(&stored(port, 10, Duration::from_secs(10)), 10);
    assert_eq!(binary::terminate(&mut child).code(), Some(0));
    let kept: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("log_watcher.sqlite.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let text = std::fs::read_to_string(&stderr).unwrap();
    assert!(text.contains("damaged"), "{text}");
}

/// A process holding SQLite's write lock on `database` (`BEGIN EXCLUSIVE`) until killed.
fn hold_lock(database: &Path) -> Child {
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked', flush=True)\n\
             time.sleep(600)\n",
        ])
        .arg(database)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    holder
}

#[test]
fn sigterm_ends_the_process_in_time_while_another_process_holds_the_database_lock_and_nothing_is_lost(
) {
    let (_guard, dir) = temp_dir();
    let log = dir.join("app.log");
    let config = config_for(&log);
    let data = dir.join("data");
    let (mut child, port) = start(config.path(), &data, &dir.join("first.stderr"));
    write_numbered(&log, 0..100, 60);
    assert_eq!(stored(port, 100, Duration::from_secs(10)).len(), 100);

    let mut holder = hold_lock(&data.join("log_watcher.sqlite"));
    write_numbered(&log, 100..400, 60);
    // Read, and stuck at the commit; searches still answer from their own connections.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(stored(port, 0, Duration::ZERO).len(), 100);
    let started = Instant::now();
    binary::terminate(&mut child);
    let took = started.elapsed();
    holder.kill().unwrap();
    holder.wait().unwrap();

    let (mut again, port) = start(config.path(), &data, &dir.join("second.stderr"));
    let messages = stored(port, 400, Duration::from_secs(20));
    assert_eq!(binary::terminate(&mut again).code(), Some(0));
    assert_exactly_once(&messages, 400);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// A tmpfs mounted at a new directory under `parent`, unmounted when dropped; `None` (and
/// a loud message) when this is not root, or a panic under `CI=true`.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(parent: &Path, options: &str, test: &str) -> Option<Tmpfs> {
        let path = parent.join("mnt");
        std::fs::create_dir_all(&path).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&path)
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Tmpfs { path }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{test} needs root and mount(8) for a tmpfs, and CI=true: {why}");
                }
                eprintln!("\n!!!!! SKIPPED {test}: cannot mount a tmpfs (needs root): {why}\n");
                None
            }
        }
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the file system holding `dir` with one file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = File::create(&path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    while file.write_all(&chunk).is_ok() {}
    // And the last bytes, to the last block.
    while file.write_all(&[0u8]).is_ok() {}
    path
}

#[test]
fn sigterm_ends_the_process_in_time_on_a_full_disk_and_nothing_is_lost_once_there_is_room() {
    let (_guard, dir) = temp_dir();
    let Some(disk) = Tmpfs::mount(&dir, "size=2m", "the full-disk test") else {
        return;
    };
    let log = dir.join("app.log");
    let config = config_for(&log);
    let data = disk.path.join("data");
    let (mut child, port) = start(config.path(), &data, &dir.join("first.stderr"));
    write_numbered(&log, 0..100, 60);
    assert_eq!(stored(port, 100, Duration::from_secs(10)).len(), 100);

    let filler = fill(&disk.path);
    // More than the free pages of the database and its WAL can hold.
    write_numbered(&log, 100..3100, 400);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        stored(port, 0, Duration::ZERO).len() < 3100,
        "the disk was not full"
    );
    let started = Instant::now();
    binary::terminate(&mut child);
    let took = started.elapsed();

    std::fs::remove_file(filler).unwrap();
    let (mut again, port) = start(config.path(), &data, &dir.join("second.stderr"));
    let messages = stored(port, 3100, Duration::from_secs(30));
    assert_eq!(binary::terminate(&mut again).code(), Some(0));
    assert_exactly_once(&messages, 3100);
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_read_only_data_directory_stops_start_up_with_one_line_and_nothing_is_lost_once_writable() {
    let (_guard, dir) = temp_dir();
    let Some(disk) = Tmpfs::mount(&dir, "size=16m", "the read-only test") else {
        return;
    };
    let log = dir.join("app.log");
    let config = config_for(&log);
    let data = disk.path.join("data");
    let (mut child, port) = start(config.path(), &data, &dir.join("first.stderr"));
    write_numbered(&log, 0..100, 60);
    assert_eq!(stored(port, 100, Duration::from_secs(10)).len(), 100);
    assert_eq!(binary::terminate(&mut child).code(), Some(0));

    // (Linux refuses to remount a file system read-only while a process has a file open
    // for writing on it, as the running service has its database: so the mount turns
    // read-only between two runs.)
    disk.remount("ro");
    write_numbered(&log, 100..300, 60);
    let stderr = dir.join("read-only.stderr");
    let (mut refused, _) = spawn(config.path(), &data, &stderr, &[]);
    let status = exit_within(&mut refused, Duration::from_secs(10));
    let text = std::fs::read_to_string(&stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.contains("Read-only file system"), "{text}");

    disk.remount("rw");
    let (mut again, port) = start(config.path(), &data, &dir.join("third.stderr"));
    let messages = stored(port, 300, Duration::from_secs(20));
    assert_eq!(binary::terminate(&mut again).code(), Some(0));
    assert_exactly_once(&messages, 300);
}

/// Skips the test `test` loudly, or fails it under `CI=true`, for `why`.
fn unavailable(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} needs root, a loop device and mkfs.ext4, and CI=true: {why}");
    }
    eprintln!("\n!!!!! SKIPPED {test}: {why}\n");
}

/// Runs `program` with `args`; its stderr on failure.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("{program}: {e}")),
    }
}

/// A small ext4 file system in an image file, mounted (loop) at a new directory under
/// `parent` with `errors=remount-ro`: on an error the kernel turns it read-only at once,
/// whatever files are open for writing on it (which `mount -o remount,ro` refuses).
/// Unmounted when dropped.
struct Ext4 {
    image: PathBuf,
    path: PathBuf,
}

impl Ext4 {
    fn mount(parent: &Path, test: &str) -> Option<Ext4> {
        let image = parent.join("ext4.img");
        let path = parent.join("ext4");
        std::fs::create_dir_all(&path).unwrap();
        File::create(&image).unwrap().set_len(64 << 20).unwrap();
        let disk = Ext4 { image, path };
        match run("mkfs.ext4", &["-q", "-F", disk.image.to_str().unwrap()])
            .and_then(|()| disk.mount_rw())
        {
            Ok(()) => Some(disk),
            Err(why) => {
                unavailable(test, &why);
                None
            }
        }
    }

    fn mount_rw(&self) -> Result<(), String> {
        run(
            "mount",
            &[
                "-o",
                "loop,errors=remount-ro",
                self.image.to_str().unwrap(),
                self.path.to_str().unwrap(),
            ],
        )
    }

    /// Tells ext4 of an error (its sysfs test hook): the file system turns read-only, as
    /// it does on a real I/O or metadata error.
    fn fail_read_only(&self) {
        let out = Command::new("findmnt")
            .args(["-no", "SOURCE"])
            .arg(&self.path)
            .output()
            .unwrap();
        let source = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let device = Path::new(&source).file_name().unwrap().to_str().unwrap();
        std::fs::write(
            format!("/sys/fs/ext4/{device}/trigger_fs_error"),
            "log_watcher fault test\n",
        )
        .unwrap();
        let probe = File::create(self.path.join("probe"));
        assert_eq!(
            probe.map(|_| ()).map_err(|e| e.raw_os_error()),
            Err(Some(30)),
            "the file system turned read-only (EROFS)"
        );
    }

    /// Unmounts, repairs (as an administrator would after the error) and mounts again.
    fn repair(&self) {
        run("umount", &[self.path.to_str().unwrap()]).unwrap();
        // 0: clean, 1: errors corrected; both leave a usable file system.
        let status = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(&self.image)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(matches!(status.code(), Some(0..=1)), "e2fsck: {status}");
        self.mount_rw().unwrap();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[test]
fn sigterm_ends_the_process_in_time_after_the_file_system_turned_read_only_and_nothing_is_lost() {
    let (_guard, dir) = temp_dir();
    let Some(disk) = Ext4::mount(&dir, "the read-only file system test") else {
        return;
    };
    let log = dir.join("app.log");
    let config = config_for(&log);
    let data = disk.path.join("data");
    let (mut child, port) = start(config.path(), &data, &dir.join("first.stderr"));
    write_numbered(&log, 0..100, 60);
    assert_eq!(stored(port, 100, Duration::from_secs(10)).len(), 100);

    // The data directory turns read-only under the running service; lines keep coming.
    disk.fail_read_only();
    write_numbered(&log, 100..400, 60);
    std::thread::sleep(Duration::from_secs(2));
    // Read, and refused at the commit: nothing new is stored, searches still answer.
    assert_eq!(stored(port, 0, Duration::ZERO).len(), 100);
    let stderr = std::fs::read_to_string(dir.join("first.stderr")).unwrap();
    assert!(
        stderr.contains("Could not store a batch"),
        "the commits fail: {stderr}"
    );
    let started = Instant::now();
    binary::terminate(&mut child);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");

    disk.repair();
    let (mut again, port) = start(config.path(), &data, &dir.join("second.stderr"));
    let messages = stored(port, 400, Duration::from_secs(20));
    assert_eq!(binary::terminate(&mut again).code(), Some(0));
    assert_exactly_once(&messages, 400);
}
