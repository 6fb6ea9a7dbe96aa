//! [`Payload`]: the few fields of a delivery's JSON that its facts come from, read in one
//! pass that skips everything else without building it (a push is kilobytes of commits and
//! URLs, of which a handful of strings matter). Reading is lenient, as a generic JSON tree
//! would be: a field of an unexpected type counts as absent, never as malformed; only text
//! that is not JSON at all is.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The fields the facts of every provider come from.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Payload {
    /// GitHub, Gitea, GitLab: `refs/heads/main`; GitHub `create`/`delete`: the bare name.
    #[serde(rename = "ref", deserialize_with = "text")]
    pub git_ref: Option<String>,
    /// GitHub, Gitea, GitLab: the new head of a push.
    #[serde(deserialize_with = "text")]
    pub after: Option<String>,
    /// The event's action (`opened`, `published`).
    #[serde(deserialize_with = "text")]
    pub action: Option<String>,
    /// GitHub `create`/`delete`: `branch` or `tag`.
    #[serde(deserialize_with = "text")]
    pub ref_type: Option<String>,
    /// GitLab: the commit checked out by a push.
    #[serde(deserialize_with = "text")]
    pub checkout_sha: Option<String>,
    /// GitLab: who pushed.
    #[serde(deserialize_with = "text")]
    pub user_username: Option<String>,
    /// GitLab: who pushed, by name.
    #[serde(deserialize_with = "text")]
    pub user_name: Option<String>,
    /// GitLab: the kind of event.
    #[serde(deserialize_with = "text")]
    pub object_kind: Option<String>,
    /// GitLab releases: the tag.
    #[serde(deserialize_with = "text")]
    pub tag: Option<String>,
    /// GitLab pipelines and jobs: the commit.
    #[serde(deserialize_with = "text")]
    pub sha: Option<String>,
    /// Standard Webhooks and many generic senders: the event.
    #[serde(rename = "type", deserialize_with = "text")]
    pub kind: Option<String>,
    /// Generic senders: the event.
    #[serde(deserialize_with = "text")]
    pub event: Option<String>,
    /// GitHub, Gitea: the repository.
    #[serde(deserialize_with = "object")]
    pub repository: Option<Repository>,
    /// GitHub, Gitea: who pushed.
    #[serde(deserialize_with = "object")]
    pub pusher: Option<Person>,
    /// GitHub, Gitea: who sent the event.
    #[serde(deserialize_with = "object")]
    pub sender: Option<Person>,
    /// GitLab: who acted.
    #[serde(deserialize_with = "object")]
    pub user: Option<Person>,
    /// GitHub: the pushed head commit.
    #[serde(deserialize_with = "object")]
    pub head_commit: Option<Commit>,
    /// GitLab releases: the commit.
    #[serde(deserialize_with = "object")]
    pub commit: Option<Commit>,
    /// GitHub, Gitea: the pull request.
    #[serde(deserialize_with = "object")]
    pub pull_request: Option<PullRequest>,
    /// GitHub, Gitea: the release.
    #[serde(deserialize_with = "object")]
    pub release: Option<Release>,
    /// GitHub: a check suite.
    #[serde(deserialize_with = "object")]
    pub check_suite: Option<Run>,
    /// GitHub: a workflow run.
    #[serde(deserialize_with = "object")]
    pub workflow_run: Option<Run>,
    /// GitLab: the project.
    #[serde(deserialize_with = "object")]
    pub project: Option<Project>,
    /// GitLab: merge request, pipeline or job details.
    #[serde(deserialize_with = "object")]
    pub object_attributes: Option<Attributes>,
}

/// `repository`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Repository {
    /// `org/name`.
    #[serde(deserialize_with = "text")]
    pub full_name: Option<String>,
}

/// `pusher`, `sender`, `user`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Person {
    /// GitHub pushers.
    #[serde(deserialize_with = "text")]
    pub name: Option<String>,
    /// GitHub senders, Gitea pushers.
    #[serde(deserialize_with = "text")]
    pub login: Option<String>,
    /// Gitea, GitLab.
    #[serde(deserialize_with = "text")]
    pub username: Option<String>,
}

/// `head_commit`, `commit`, `last_commit`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Commit {
    /// The commit hash.
    #[serde(deserialize_with = "text")]
    pub id: Option<String>,
}

/// `pull_request`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PullRequest {
    /// The branch it goes into.
    #[serde(deserialize_with = "object")]
    pub base: Option<Branch>,
    /// The branch it comes from.
    #[serde(deserialize_with = "object")]
    pub head: Option<Branch>,
}

/// `base`, `head` of a pull request.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Branch {
    /// The branch name.
    #[serde(rename = "ref", deserialize_with = "text")]
    pub name: Option<String>,
    /// Its commit.
    #[serde(deserialize_with = "text")]
    pub sha: Option<String>,
}

/// `release`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Release {
    /// The release's tag.
    #[serde(deserialize_with = "text")]
    pub tag_name: Option<String>,
}

/// `check_suite`, `workflow_run`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Run {
    /// The commit it ran on.
    #[serde(deserialize_with = "text")]
    pub head_sha: Option<String>,
    /// The branch it ran on.
    #[serde(deserialize_with = "text")]
    pub head_branch: Option<String>,
}

/// GitLab's `project`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Project {
    /// `group/name`.
    #[serde(deserialize_with = "text")]
    pub path_with_namespace: Option<String>,
}

/// GitLab's `object_attributes`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Attributes {
    /// Merge requests: `open`, `merge`...
    #[serde(deserialize_with = "text")]
    pub action: Option<String>,
    /// Merge requests: the branch it goes into.
    #[serde(deserialize_with = "text")]
    pub target_branch: Option<String>,
    /// Merge requests: the newest commit.
    #[serde(deserialize_with = "object")]
    pub last_commit: Option<Commit>,
    /// Pipelines and jobs: the branch or tag name.
    #[serde(rename = "ref", deserialize_with = "text")]
    pub name: Option<String>,
    /// Pipelines and jobs: the commit.
    #[serde(deserialize_with = "text")]
    pub sha: Option<String>,
    /// Pipelines and jobs: `success`, `failed`...
    #[serde(deserialize_with = "text")]
    pub status: Option<String>,
    /// Pipelines: whether `ref` is a tag.
    #[serde(deserialize_with = "flag")]
    pub tag: Option<bool>,
}

impl Payload {
    /// Reads `json`: the payload's fields when it is an object, nothing when it is other
    /// JSON; an error only when it is not JSON (or has more after it).
    pub fn parse(json: &[u8]) -> Result<Payload, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        let payload = object::<_, Payload>(&mut deserializer)?.unwrap_or_default();
        deserializer.end()?;
        Ok(payload)
    }
}

/// Reads a value and keeps it only when it is `T` written as a JSON object.
fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    struct ObjectOnly<T>(PhantomData<T>);
    impl<'de, T: DeserializeOwned> Visitor<'de> for ObjectOnly<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
    }
    d.deserialize_any(ObjectOnly(PhantomData))
}

/// Reads a value and keeps it as text when it is a non-empty string or a number.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, s: &str) -> Result<Option<String>, E> {
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        fn visit_string<E>(self, s: String) -> Result<Option<String>, E> {
            Ok((!s.is_empty()).then_some(s))
        }
        fn visit_i64<E>(self, n: i64) -> Result<Option<String>, E> {
            Ok(Some(n.to_string()))
        }
        fn visit_u64<E>(self, n: u64) -> Result<Option<String>, E> {
            Ok(Some(n.to_string()))
        }
        fn visit_f64<E>(self, n: f64) -> Result<Option<String>, E> {
            Ok(Some(n.to_string()))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(Text)
}

/// Reads a value and keeps it when it is a boolean.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value.as_bool())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wanted_fields_are_read_and_the_rest_skipped() {
        let payload = Payload::parse(
            br#"{"ref": "refs/heads/main", "commits": [{"id": "x", "added": []}],
                 "repository": {"full_name": "org/app", "owner": {"login": "org"}},
                 "pusher": {"name": "octocat"}, "after": "abc"}"#,
        )
        .unwrap();
        assert_eq!(payload.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(payload.after.as_deref(), Some("abc"));
        assert_eq!(
            payload.repository.and_then(|r| r.full_name).as_deref(),
            Some("org/app")
        );
    }

    #[test]
    fn fields_of_an_unexpected_type_count_as_absent() {
        let payload = Payload::parse(
            br#"{"ref": ["x"], "after": 12, "repository": "org/app", "pusher": null,
                 "object_attributes": {"tag": "yes"}}"#,
        )
        .unwrap();
        assert_eq!(payload.git_ref, None);
        assert_eq!(payload.after.as_deref(), Some("12"));
        assert_eq!(payload.repository, None);
        assert_eq!(payload.object_attributes.unwrap().tag, None);
    }

    #[test]
    fn json_that_is_not_an_object_says_nothing_and_non_json_is_an_error() {
        assert_eq!(Payload::parse(b"[1, 2]").unwrap(), Payload::default());
        assert_eq!(Payload::parse(b"\"text\"").unwrap(), Payload::default());
        assert!(Payload::parse(br#"{"ref": "refs/heads/ma"#).is_err());
        assert!(Payload::parse(br#"{} trailing"#).is_err());
        assert!(Payload::parse(b"").is_err());
    }

    #[test]
    fn deeply_nested_json_is_skipped_without_overflowing_the_stack() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(Payload::parse(deep.as_bytes()).unwrap(), Payload::default());
        let deep_field = format!(
            r#"{{"ref": "x", "commits": {}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(
            Payload::parse(deep_field.as_bytes())
                .unwrap()
                .git_ref
                .as_deref(),
            Some("x")
        );
    }
}
