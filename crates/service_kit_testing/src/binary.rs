//! Testing a service binary the way operators run it: write a config file, check it with
//! `check-config`, wait until the process answers, stop it with SIGTERM.

use std::io::Write;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A temporary `.toml` file holding `text`, removed when dropped.
pub fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("create a temporary config file");
    file.write_all(text.as_bytes())
        .expect("write the temporary config file");
    file
}

/// Runs `command` with `--config FILE check-config` for a config holding `text`; returns the
/// exit code, stdout and stderr.
pub fn check_config(mut command: Command, text: &str) -> (i32, String, String) {
    let file = write_config(text);
    let out = command
        .arg("--config")
        .arg(file.path())
        .arg("check-config")
        .output()
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts the contract for a bad config: exit code 2 and one line on stderr, starting with
/// `invalid config ` and containing `expected` (the key and the problem).
pub fn assert_config_rejected(
    config: &str,
    (code, _, stderr): (i32, String, String),
    expected: &str,
) {
    assert_eq!(code, 2, "exit code for {config}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line for {config}: {stderr}");
    assert!(stderr.starts_with("invalid config "), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in {stderr:?}"
    );
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    super::free_port_blocking()
}

/// Waits until `url` answers 2xx (as the `selfcheck` subcommand asks), for at most `within`.
pub fn wait_until_answers(url: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while service_kit::cli::selfcheck(url, Duration::from_secs(1)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{url} did not answer within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM to `child` and waits for it to exit, failing after 10 s (the contract).
pub fn terminate(child: &mut Child) -> ExitStatus {
    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
