//! Which verified deliveries a hook acts on: its `events`, `repos` (globs such as `org/*`,
//! case-insensitive as repository names are) and `branches` (globs such as `release/*`,
//! where `*` stays within one path segment and `**` crosses them, as in CI branch filters).
//! A delivery that does not pass is answered 200 `ignored` with the reason.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::payload::Facts;

/// A hook's filters, compiled.
#[derive(Debug, Clone, Default)]
pub struct HookFilter {
    /// Accepted events (empty: all).
    events: Vec<String>,
    /// Accepted repositories, as written (for reasons) and compiled.
    repos: Patterns,
    /// Accepted branches, as written and compiled.
    branches: Patterns,
    /// Events that run the action; the others that pass are only logged (the spec's single
    /// hook runs its script for `push` only). `None`: every event that passes.
    action_events: Option<Vec<String>>,
}

/// Globs as written and compiled.
#[derive(Debug, Clone, Default)]
struct Patterns {
    written: Vec<String>,
    set: Option<GlobSet>,
}

impl Patterns {
    fn new(written: &[String], case_insensitive: bool) -> Result<Patterns, (usize, String)> {
        if written.is_empty() {
            return Ok(Patterns::default());
        }
        let mut builder = GlobSetBuilder::new();
        for (i, pattern) in written.iter().enumerate() {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|e| (i, e.kind().to_string()))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| (0, e.to_string()))?;
        Ok(Patterns {
            written: written.to_vec(),
            set: Some(set),
        })
    }

    fn allows(&self, value: &str) -> bool {
        self.set.as_ref().is_none_or(|set| set.is_match(value))
    }

    fn is_empty(&self) -> bool {
        self.set.is_none()
    }
}

/// Why a filter could not be built: which list, which entry, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// `repos` or `branches`.
    pub list: &'static str,
    /// The entry's index.
    pub index: usize,
    /// The glob's problem.
    pub problem: String,
}

impl HookFilter {
    /// Compiles a hook's filters; `action_events` as in the field's doc.
    pub fn new(
        events: &[String],
        repos: &[String],
        branches: &[String],
        action_events: Option<Vec<String>>,
    ) -> Result<HookFilter, FilterError> {
        let error = |list| {
            move |(index, problem)| FilterError {
                list,
                index,
                problem,
            }
        };
        // Validates each glob with the same parser the set uses, so the index is right.
        for (list, patterns) in [("repos", repos), ("branches", branches)] {
            for (index, pattern) in patterns.iter().enumerate() {
                Glob::new(pattern).map_err(|e| FilterError {
                    list,
                    index,
                    problem: e.kind().to_string(),
                })?;
            }
        }
        Ok(HookFilter {
            events: events
                .iter()
                .map(|e| e.trim().to_ascii_lowercase())
                .collect(),
            repos: Patterns::new(repos, true).map_err(error("repos"))?,
            branches: Patterns::new(branches, false).map_err(error("branches"))?,
            action_events,
        })
    }

    /// The filters as written, for `GET /hooks` and the dashboard.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "events": self.events,
            "repos": self.repos.written,
            "branches": self.branches.written,
            "action_events": self.action_events,
        })
    }

    /// `Ok` when the hook acts on a delivery with `facts`, else why not.
    pub fn check(&self, facts: &Facts) -> Result<(), String> {
        if !self.events.is_empty() && !self.events.contains(&facts.event.to_ascii_lowercase()) {
            return Err(format!(
                "event {:?} is not one of the hook's events ({})",
                facts.event,
                self.events.join(", ")
            ));
        }
        if !self.repos.is_empty() {
            match facts.repo.as_deref() {
                None => return Err("the payload names no repository".to_string()),
                Some(repo) if !self.repos.allows(repo) => {
                    return Err(format!(
                        "repository {repo:?} is not one of the hook's repos ({})",
                        self.repos.written.join(", ")
                    ))
                }
                Some(_) => {}
            }
        }
        if !self.branches.is_empty() {
            match facts.branch.as_deref() {
                None => {
                    return Err(format!(
                        "the delivery names no branch, and the hook accepts branches ({}) only",
                        self.branches.written.join(", ")
                    ))
                }
                Some(branch) if !self.branches.allows(branch) => {
                    return Err(format!(
                        "branch {branch:?} does not match the hook's branches ({})",
                        self.branches.written.join(", ")
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(action_events) = &self.action_events {
            if !action_events
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&facts.event))
            {
                return Err(format!(
                    "no action for {} events (logged only)",
                    facts.event
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(event: &str, repo: Option<&str>, branch: Option<&str>) -> Facts {
        Facts {
            repo: repo.map(str::to_string),
            branch: branch.map(str::to_string),
            ..Facts::new(event)
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_empty_filter_accepts_everything() {
        let filter = HookFilter::new(&[], &[], &[], None).unwrap();
        assert_eq!(filter.check(&facts("anything", None, None)), Ok(()));
    }

    #[test]
    fn events_repos_and_branches_each_say_why_they_refuse() {
        let filter = HookFilter::new(
            &strings(&["push"]),
            &strings(&["org/*"]),
            &strings(&["main", "release/*"]),
            None,
        )
        .unwrap();
        assert_eq!(
            filter.check(&facts("push", Some("org/app"), Some("main"))),
            Ok(())
        );
        assert_eq!(
            filter.check(&facts("push", Some("ORG/App"), Some("release/1.2"))),
            Ok(())
        );
        let reason = filter
            .check(&facts("release", Some("org/app"), Some("main")))
            .unwrap_err();
        assert!(reason.contains("event \"release\""), "{reason}");
        let reason = filter
            .check(&facts("push", Some("other/app"), Some("main")))
            .unwrap_err();
        assert!(reason.contains("repository \"other/app\""), "{reason}");
        let reason = filter
            .check(&facts("push", Some("org/app"), Some("dev")))
            .unwrap_err();
        assert!(reason.contains("branch \"dev\""), "{reason}");
        let reason = filter
            .check(&facts("push", Some("org/app"), None))
            .unwrap_err();
        assert!(reason.contains("names no branch"), "{reason}");
    }

    #[test]
    fn a_single_star_stays_within_one_segment() {
        let filter = HookFilter::new(&[], &[], &strings(&["release/*"]), None).unwrap();
        assert!(filter
            .check(&facts("push", None, Some("release/a/b")))
            .is_err());
        let filter = HookFilter::new(&[], &[], &strings(&["release/**"]), None).unwrap();
        assert_eq!(
            filter.check(&facts("push", None, Some("release/a/b"))),
            Ok(())
        );
    }

    #[test]
    fn bad_globs_name_their_list_and_entry() {
        let err = HookFilter::new(&[], &[], &strings(&["main", "release/[x"]), None).unwrap_err();
        assert_eq!((err.list, err.index), ("branches", 1));
    }

    #[test]
    fn action_events_log_the_other_events_without_acting() {
        let filter = HookFilter::new(
            &strings(&["push", "release"]),
            &[],
            &[],
            Some(strings(&["push"])),
        )
        .unwrap();
        assert_eq!(filter.check(&facts("push", None, None)), Ok(()));
        let reason = filter.check(&facts("release", None, None)).unwrap_err();
        assert_eq!(reason, "no action for release events (logged only)");
    }
}
