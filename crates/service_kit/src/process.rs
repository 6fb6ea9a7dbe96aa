//! Child processes that can be stopped as a whole: each runs in a process group of its own,
//! so that a timeout kills what it started too (a `sh -c` and its children, a deploy script
//! and its `docker compose`), not only the direct child.

use std::io;

use rustix::process::{kill_process_group, Pid, Signal};

/// Makes the command start a new process group led by the child (call before spawning).
pub fn in_own_group(command: &mut tokio::process::Command) -> &mut tokio::process::Command {
    command.process_group(0)
}

/// Sends SIGKILL to every process of the group led by `pid` (a child started with
/// [`in_own_group`]). A group that is already gone is not an error.
pub fn kill_group(pid: u32) -> io::Result<()> {
    signal_group(pid, Signal::KILL)
}

/// Sends SIGTERM to every process of the group led by `pid`, asking them to finish.
pub fn terminate_group(pid: u32) -> io::Result<()> {
    signal_group(pid, Signal::TERM)
}

fn signal_group(pid: u32, signal: Signal) -> io::Result<()> {
    let group = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a process id"))?;
    match kill_process_group(group, signal) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn killing_the_group_ends_the_grandchildren_too() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let mut command = tokio::process::Command::new("sh");
        command.args(["-c", &script]);
        let mut child = in_own_group(&mut command).spawn().unwrap();
        let grandchild = loop {
            if let Ok(text) = std::fs::read_to_string(&marker) {
                if let Ok(pid) = text.trim().parse::<i32>() {
                    break pid;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        kill_group(child.id().unwrap()).unwrap();
        child.wait().await.unwrap();
        let proc_dir = std::path::PathBuf::from(format!("/proc/{grandchild}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // Gone, or a zombie waiting for init to reap it.
        while proc_dir.exists()
            && !std::fs::read_to_string(proc_dir.join("stat")).is_ok_and(|s| s.contains(") Z"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "grandchild still runs"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn a_group_that_is_gone_is_not_an_error() {
        // No kernel hands out process ids this high (pid_max is at most 2^22).
        assert!(kill_group(2_000_000_000).is_ok());
    }
}
