//! [`Facts`]: what a delivery is about, the same fields whoever sent it. They decide the
//! filters, become the job's `WEBHOOK_*` environment variables, and label the job in the
//! audit trail, the dashboard and notifications.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

/// What a delivery is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The event, normalised: `push`, `tag_push`, `pull_request`, `merge_request`,
    /// `release`, `ping`, or the sender's own name for others.
    pub event: String,
    /// The event's action where it has one (`opened`, `published`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The repository, `org/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The full ref, such as `refs/heads/main` or `refs/tags/v1.2`.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The branch: of a push, or the target branch of a pull or merge request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The tag, for tag pushes and releases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The commit the delivery is about (the new head of a push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Who pushed or acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pusher: Option<String>,
    /// The sender's id for this delivery; a redelivery carries the same one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

impl Facts {
    /// Facts of an `event` with nothing else known yet.
    pub fn new(event: impl Into<String>) -> Facts {
        Facts {
            event: event.into(),
            ..Facts::default()
        }
    }

    /// Sets `git_ref`, and the branch or tag it names.
    pub fn set_ref(&mut self, git_ref: Option<String>) {
        if let Some(r) = &git_ref {
            if let Some(branch) = r.strip_prefix("refs/heads/") {
                self.branch = Some(branch.to_string());
            } else if let Some(tag) = r.strip_prefix("refs/tags/") {
                self.tag = Some(tag.to_string());
            }
        }
        self.git_ref = git_ref;
    }

    /// The first 7 characters of the commit, as people quote commits.
    pub fn short_commit(&self) -> Option<&str> {
        // Seven characters, not bytes: a payload may put anything there.
        self.commit
            .as_deref()
            .map(|c| c.char_indices().nth(7).map_or(c, |(i, _)| &c[..i]))
    }

    /// `org/app@1a2b3c4 (main)`: the delivery in one phrase, for log lines and titles.
    pub fn describe(&self) -> String {
        let mut out = self
            .repo
            .clone()
            .unwrap_or_else(|| "(no repository)".to_string());
        if let Some(commit) = self.short_commit() {
            out.push('@');
            out.push_str(commit);
        }
        if let Some(name) = self.branch.as_deref().or(self.tag.as_deref()) {
            out.push_str(&format!(" ({name})"));
        }
        out
    }
}

/// A header's value as text, if present, visible ASCII and not empty.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_name_their_branch_or_tag() {
        let mut facts = Facts::new("push");
        facts.set_ref(Some("refs/heads/release/1.2".into()));
        assert_eq!(facts.branch.as_deref(), Some("release/1.2"));
        let mut facts = Facts::new("push");
        facts.set_ref(Some("refs/tags/v1".into()));
        assert_eq!((facts.branch, facts.tag.as_deref()), (None, Some("v1")));
    }

    #[test]
    fn a_short_commit_is_seven_characters_whatever_they_are() {
        let facts = Facts {
            commit: Some("ééééééééé".into()),
            ..Facts::new("push")
        };
        assert_eq!(facts.short_commit(), Some("ééééééé"));
        assert_eq!(
            Facts {
                commit: Some("ab".into()),
                ..Facts::new("push")
            }
            .short_commit(),
            Some("ab")
        );
    }

    #[test]
    fn a_delivery_reads_as_repo_commit_and_branch() {
        let mut facts = Facts::new("push");
        facts.repo = Some("org/app".into());
        facts.commit = Some("1a2b3c4d5e6f".into());
        facts.set_ref(Some("refs/heads/main".into()));
        assert_eq!(facts.describe(), "org/app@1a2b3c4 (main)");
    }
}
