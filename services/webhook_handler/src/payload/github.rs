//! Facts of GitHub deliveries, and of Gitea and Forgejo, whose payloads follow GitHub's:
//! the event from `X-GitHub-Event` (`X-Gitea-Event`, `X-Forgejo-Event`), the delivery id from
//! `X-GitHub-Delivery` (`X-Gitea-Delivery`, `X-Forgejo-Delivery`), the rest from the payload.

use axum::http::HeaderMap;

use super::facts::{header, Facts};
use super::sparse::{Payload, Person};

/// Facts of a GitHub, Gitea or Forgejo delivery.
pub fn facts(headers: &HeaderMap, payload: &Payload) -> Facts {
    let event = ["x-github-event", "x-gitea-event", "x-forgejo-event"]
        .iter()
        .find_map(|name| header(headers, name))
        .unwrap_or_else(|| "unknown".to_string());
    let mut facts = payload_facts(Facts::new(event), payload);
    facts.delivery = [
        "x-github-delivery",
        "x-gitea-delivery",
        "x-forgejo-delivery",
    ]
    .iter()
    .find_map(|name| header(headers, name));
    facts
}

/// Fills repository, ref, commit, pusher and action from a GitHub-shaped payload.
pub fn payload_facts(mut facts: Facts, payload: &Payload) -> Facts {
    facts.repo = payload
        .repository
        .as_ref()
        .and_then(|r| r.full_name.clone());
    facts.action = payload.action.clone();
    let pusher = |person: &Option<Person>| {
        person.as_ref().and_then(|p| {
            (p.name.clone())
                .or_else(|| p.login.clone())
                .or_else(|| p.username.clone())
        })
    };
    facts.pusher = pusher(&payload.pusher).or_else(|| pusher(&payload.sender));
    match facts.event.as_str() {
        "pull_request" => {
            // Filters name the branch a pull request goes into, as CI `branches:` do.
            let pull = payload.pull_request.as_ref();
            facts.branch = pull
                .and_then(|p| p.base.as_ref())
                .and_then(|b| b.name.clone());
            facts.commit = pull
                .and_then(|p| p.head.as_ref())
                .and_then(|h| h.sha.clone());
        }
        "release" => {
            facts.tag = payload.release.as_ref().and_then(|r| r.tag_name.clone());
            facts.git_ref = facts.tag.as_ref().map(|t| format!("refs/tags/{t}"));
        }
        "create" | "delete" => {
            let name = payload.git_ref.clone();
            let full = match (payload.ref_type.as_deref(), name) {
                (Some("tag"), Some(n)) => Some(format!("refs/tags/{n}")),
                (Some("branch"), Some(n)) => Some(format!("refs/heads/{n}")),
                (_, n) => n,
            };
            facts.set_ref(full);
        }
        _ => {
            facts.set_ref(payload.git_ref.clone());
            let run = payload
                .check_suite
                .as_ref()
                .or(payload.workflow_run.as_ref());
            facts.commit = payload
                .after
                .clone()
                .or_else(|| payload.head_commit.as_ref().and_then(|c| c.id.clone()))
                .or_else(|| run.and_then(|r| r.head_sha.clone()));
            if facts.branch.is_none() {
                facts.branch = run.and_then(|r| r.head_branch.clone());
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(payload: serde_json::Value) -> Payload {
        Payload::parse(payload.to_string().as_bytes()).unwrap()
    }

    fn headers(event: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("x-github-event", event.parse().unwrap());
        map.insert(
            "x-github-delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap(),
        );
        map
    }

    #[test]
    fn a_push_names_repo_branch_commit_and_pusher() {
        let payload = serde_json::json!({
            "ref": "refs/heads/main",
            "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
            "repository": {"full_name": "yourorg/yourrepo"},
            "pusher": {"name": "octocat", "email": "octocat@github.com"},
            "sender": {"login": "octocat"}
        });
        let facts = facts(&headers("push"), &parse(payload));
        assert_eq!(facts.event, "push");
        assert_eq!(facts.repo.as_deref(), Some("yourorg/yourrepo"));
        assert_eq!(facts.branch.as_deref(), Some("main"));
        assert_eq!(
            facts.commit.as_deref(),
            Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
        );
        assert_eq!(facts.pusher.as_deref(), Some("octocat"));
        assert_eq!(
            facts.delivery.as_deref(),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
    }

    #[test]
    fn a_pull_request_is_filtered_by_the_branch_it_goes_into() {
        let payload = serde_json::json!({
            "action": "opened",
            "repository": {"full_name": "o/r"},
            "pull_request": {"base": {"ref": "main"}, "head": {"ref": "feature", "sha": "abc"}}
        });
        let facts = facts(&headers("pull_request"), &parse(payload));
        assert_eq!(facts.branch.as_deref(), Some("main"));
        assert_eq!(facts.commit.as_deref(), Some("abc"));
        assert_eq!(facts.action.as_deref(), Some("opened"));
    }

    #[test]
    fn a_release_names_its_tag() {
        let payload = serde_json::json!({
            "action": "published",
            "repository": {"full_name": "o/r"},
            "release": {"tag_name": "v1.2.0"}
        });
        let facts = facts(&headers("release"), &parse(payload));
        assert_eq!(facts.tag.as_deref(), Some("v1.2.0"));
        assert_eq!(facts.branch, None);
    }

    #[test]
    fn gitea_and_forgejo_use_their_own_headers() {
        let mut map = HeaderMap::new();
        map.insert("x-forgejo-event", "push".parse().unwrap());
        map.insert("x-forgejo-delivery", "d-1".parse().unwrap());
        let payload = serde_json::json!({
            "ref": "refs/heads/main", "after": "abc",
            "repository": {"full_name": "o/r"}, "pusher": {"login": "gitea-user"}
        });
        let facts = facts(&map, &parse(payload));
        assert_eq!(facts.event, "push");
        assert_eq!(facts.delivery.as_deref(), Some("d-1"));
        assert_eq!(facts.pusher.as_deref(), Some("gitea-user"));
    }
}
