//! Facts of GitLab deliveries: the event from `X-Gitlab-Event` (`Push Hook` is `push`,
//! `Tag Push Hook` is `tag_push`, `Merge Request Hook` is `merge_request`, and so on), the
//! delivery id from `Idempotency-Key` or `X-Gitlab-Event-UUID`, the rest from the payload.

use axum::http::HeaderMap;

use super::facts::{header, Facts};
use super::sparse::Payload;

/// `Push Hook` → `push`, `Merge Request Hook` → `merge_request`: lower case, without the
/// trailing `Hook`, words joined by `_`.
pub fn event_name(header: &str) -> String {
    let trimmed = header.trim();
    let trimmed = trimmed.strip_suffix(" Hook").unwrap_or(trimmed);
    trimmed
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

/// Facts of a GitLab delivery.
pub fn facts(headers: &HeaderMap, payload: &Payload) -> Facts {
    let event = header(headers, "x-gitlab-event")
        .map(|h| event_name(&h))
        .or_else(|| payload.object_kind.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let mut facts = Facts::new(event);
    facts.repo = payload
        .project
        .as_ref()
        .and_then(|p| p.path_with_namespace.clone());
    facts.pusher = payload
        .user_username
        .clone()
        .or_else(|| payload.user.as_ref().and_then(|u| u.username.clone()))
        .or_else(|| payload.user_name.clone());
    let attributes = payload.object_attributes.as_ref();
    match facts.event.as_str() {
        "merge_request" => {
            facts.action = attributes.and_then(|a| a.action.clone());
            facts.branch = attributes.and_then(|a| a.target_branch.clone());
            facts.commit = attributes
                .and_then(|a| a.last_commit.as_ref())
                .and_then(|c| c.id.clone());
        }
        "pipeline" | "job" => {
            facts.action = attributes.and_then(|a| a.status.clone());
            let name = attributes
                .and_then(|a| a.name.clone())
                .or_else(|| payload.git_ref.clone());
            let is_tag = attributes.and_then(|a| a.tag).unwrap_or(false);
            facts.set_ref(name.map(|n| {
                if is_tag {
                    format!("refs/tags/{n}")
                } else {
                    format!("refs/heads/{n}")
                }
            }));
            facts.commit = attributes
                .and_then(|a| a.sha.clone())
                .or_else(|| payload.sha.clone());
        }
        "release" => {
            facts.action = payload.action.clone();
            facts.tag = payload.tag.clone();
            facts.commit = payload.commit.as_ref().and_then(|c| c.id.clone());
        }
        _ => {
            facts.set_ref(payload.git_ref.clone());
            facts.commit = payload
                .checkout_sha
                .clone()
                .or_else(|| payload.after.clone());
        }
    }
    facts.delivery =
        header(headers, "idempotency-key").or_else(|| header(headers, "x-gitlab-event-uuid"));
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(payload: serde_json::Value) -> Payload {
        Payload::parse(payload.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn event_headers_become_short_names() {
        assert_eq!(event_name("Push Hook"), "push");
        assert_eq!(event_name("Tag Push Hook"), "tag_push");
        assert_eq!(event_name("Merge Request Hook"), "merge_request");
        assert_eq!(event_name("Pipeline Hook"), "pipeline");
    }

    #[test]
    fn a_push_names_project_branch_commit_and_user() {
        let mut headers = HeaderMap::new();
        headers.insert("x-gitlab-event", "Push Hook".parse().unwrap());
        headers.insert("x-gitlab-event-uuid", "uuid-1".parse().unwrap());
        let payload = serde_json::json!({
            "object_kind": "push",
            "ref": "refs/heads/main",
            "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "user_username": "jsmith",
            "project": {"path_with_namespace": "mike/diaspora"}
        });
        let facts = facts(&headers, &parse(payload));
        assert_eq!(facts.event, "push");
        assert_eq!(facts.repo.as_deref(), Some("mike/diaspora"));
        assert_eq!(facts.branch.as_deref(), Some("main"));
        assert_eq!(
            facts.commit.as_deref(),
            Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7")
        );
        assert_eq!(facts.pusher.as_deref(), Some("jsmith"));
        assert_eq!(facts.delivery.as_deref(), Some("uuid-1"));
    }

    #[test]
    fn idempotency_key_wins_over_the_event_uuid() {
        let mut headers = HeaderMap::new();
        headers.insert("x-gitlab-event", "Tag Push Hook".parse().unwrap());
        headers.insert("idempotency-key", "key-1".parse().unwrap());
        headers.insert("x-gitlab-event-uuid", "uuid-1".parse().unwrap());
        let payload =
            serde_json::json!({"ref": "refs/tags/v1", "project": {"path_with_namespace": "a/b"}});
        let facts = facts(&headers, &parse(payload));
        assert_eq!(facts.event, "tag_push");
        assert_eq!(facts.tag.as_deref(), Some("v1"));
        assert_eq!(facts.delivery.as_deref(), Some("key-1"));
    }

    #[test]
    fn a_merge_request_is_filtered_by_its_target_branch() {
        let mut headers = HeaderMap::new();
        headers.insert("x-gitlab-event", "Merge Request Hook".parse().unwrap());
        let payload = serde_json::json!({
            "project": {"path_with_namespace": "a/b"},
            "object_attributes": {"action": "merge", "target_branch": "main", "last_commit": {"id": "c1"}}
        });
        let facts = facts(&headers, &parse(payload));
        assert_eq!(facts.branch.as_deref(), Some("main"));
        assert_eq!(facts.commit.as_deref(), Some("c1"));
        assert_eq!(facts.action.as_deref(), Some("merge"));
    }
}
