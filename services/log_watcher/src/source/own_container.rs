//! Which container this process runs in, so that neither Docker source reads log_watcher's
//! own output: every event it prints would come back as a new line, forever.

/// The id of the container this process runs in, if any: Docker bind-mounts
/// `/var/lib/docker/containers/ID/{hostname,hosts,resolv.conf}` into every container, and
/// cgroup v1 paths end in `/docker/ID`.
pub fn own_container_id() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let from_mounts = mountinfo
        .lines()
        .find_map(|line| id_after(line, "/containers/"));
    from_mounts.or_else(|| {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        cgroup.lines().find_map(|line| id_after(line, "/docker/"))
    })
}

/// A 64-hex-digit id right after `marker` in `text`, followed by `/` or the end.
fn id_after(text: &str, marker: &str) -> Option<String> {
    text.match_indices(marker).find_map(|(at, _)| {
        let rest = &text[at + marker.len()..];
        let id = rest.get(..64)?;
        let ends = matches!(rest.as_bytes().get(64), None | Some(b'/' | b' ' | b'\n'));
        (ends && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_container_id_is_found_in_mountinfo_and_cgroup_lines() {
        let id = "0123456789abcdef".repeat(4);
        let mount = format!(
            "612 590 0:52 /var/lib/docker/containers/{id}/resolv.conf /etc/resolv.conf rw - ext4 /dev/sda1 rw"
        );
        assert_eq!(id_after(&mount, "/containers/"), Some(id.clone()));
        assert_eq!(
            id_after(&format!("12:memory:/docker/{id}"), "/docker/"),
            Some(id)
        );
        assert_eq!(
            id_after(
                "590 1 0:52 /var/lib/docker/containers /mnt ro",
                "/containers/"
            ),
            None
        );
    }
}
