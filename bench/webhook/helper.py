#!/usr/bin/env python3
"""Small helpers for bench/webhook/run (Python 3 standard library only).

Subcommands:
  free-ports N                      print N free TCP ports on 127.0.0.1, one per line
  payload FILE                      write a realistic GitHub push payload (repo org/app, three
                                    commits, ~8 KB of JSON, deterministic); print its size
  sign FILE SECRET                  print "sha256=<hex>", GitHub's X-Hub-Signature-256 of FILE
  our-config FILE SECRET            write webhook_handler's config: hook "app", GitHub, push
                                    events of org/app, command /bin/true
  peer-hooks FILE SECRET            write adnanh/webhook's hooks.json with the same hook
  wait-http URL TIMEOUT             wait until URL answers HTTP at all (any status)
  check URL BODYFILE SECRET         one correctly signed delivery, then one with a wrong
                                    signature; print "good=<status> bad=<status>" and both
                                    bodies (first 200 characters) on the next lines
  job-state URL TIMEOUT             poll our GET URL (/jobs/ID) until the job has ended; print
                                    its state
  queued-jobs URL                   print how many of our jobs are in state queued (GET
                                    URL/jobs?state=queued; a number, at most 500)
  job-counts URL                    print our finished jobs by state, from URL/metrics
                                    (webhook_jobs_finished_total), such as "succeeded=12"
  watch-rss PID SECONDS [INTERVAL]  sample PID and its descendants every INTERVAL (0.1) s for
                                    SECONDS; print "main_kb=<peak VmRSS of PID>
                                    tree_kb=<peak VmRSS summed over PID and its descendants>
                                    children=<most descendants seen at once> hwm_kb=<VmHWM of
                                    PID at the end> samples=<n>"
  cpu PID                           print utime+stime of PID in clock ticks
  rss PID                           print "VmRSS_kB VmHWM_kB" of PID
"""

import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from procstat import cpu, free_ports, rss, rss_tree  # noqa: E402  (shared with the other benches)

REPO = "org/app"
HOOK_ID = "app"


def push_payload():
    """A push of three commits to main of org/app, shaped like GitHub's own push payload
    (every field GitHub sends, URLs and all), so the body is as large and as nested as a real
    one: ~8 KB."""
    owner, name = REPO.split("/")
    api = f"https://api.github.com/repos/{REPO}"
    html = f"https://github.com/{REPO}"
    user = {
        "name": "octo-dev",
        "email": "octo-dev@users.noreply.github.com",
        "username": "octo-dev",
    }

    def account(login, uid, kind="User"):
        return {
            "name": login,
            "email": None if kind == "Organization" else f"{login}@users.noreply.github.com",
            "login": login,
            "id": uid,
            "node_id": f"MDQ6VXNlcj{uid}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "",
            "url": f"https://api.github.com/users/{login}",
            "html_url": f"https://github.com/{login}",
            "followers_url": f"https://api.github.com/users/{login}/followers",
            "following_url": f"https://api.github.com/users/{login}/following{{/other_user}}",
            "gists_url": f"https://api.github.com/users/{login}/gists{{/gist_id}}",
            "starred_url": f"https://api.github.com/users/{login}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"https://api.github.com/users/{login}/subscriptions",
            "organizations_url": f"https://api.github.com/users/{login}/orgs",
            "repos_url": f"https://api.github.com/users/{login}/repos",
            "events_url": f"https://api.github.com/users/{login}/events{{/privacy}}",
            "received_events_url": f"https://api.github.com/users/{login}/received_events",
            "type": kind,
            "site_admin": False,
        }

    shas = [hashlib.sha1(f"commit-{i}".encode()).hexdigest() for i in range(4)]
    messages = [
        "Fix the retry loop in the payment client\n\nThe backoff never reset after a success.",
        "Bump the base image to debian:bookworm-slim",
        "Add a health check to the worker service",
    ]
    files = [
        (["src/payments/client.py"], ["tests/test_client.py"], []),
        ([], ["Dockerfile"], []),
        (["docker/healthcheck.sh"], ["docker-compose.yml", "README.md"], ["docker/old_check.sh"]),
    ]
    commits = []
    for i, message in enumerate(messages):
        sha = shas[i + 1]
        commits.append({
            "id": sha,
            "tree_id": hashlib.sha1(f"tree-{i}".encode()).hexdigest(),
            "distinct": True,
            "message": message,
            "timestamp": f"2024-06-12T13:0{i}:00+02:00",
            "url": f"{html}/commit/{sha}",
            "author": user,
            "committer": user,
            "added": files[i][0],
            "modified": files[i][1],
            "removed": files[i][2],
        })
    repository = {
        "id": 123456789,
        "node_id": "R_kgDOHXyZ1Q",
        "name": name,
        "full_name": REPO,
        "private": True,
        "owner": account(owner, 987654, "Organization"),
        "html_url": html,
        "description": "The application deployed by the webhook",
        "fork": False,
        "url": html,
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
        "created_at": 1686574980,
        "updated_at": "2024-06-12T11:00:00Z",
        "pushed_at": 1718197380,
        "git_url": f"git://github.com/{REPO}.git",
        "ssh_url": f"git@github.com:{REPO}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "homepage": None,
        "size": 2048,
        "stargazers_count": 3,
        "watchers_count": 3,
        "language": "Python",
        "has_issues": True,
        "has_projects": False,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 4,
        "license": None,
        "allow_forking": False,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private",
        "forks": 0,
        "open_issues": 4,
        "watchers": 3,
        "default_branch": "main",
        "stargazers": 3,
        "master_branch": "main",
        "organization": owner,
        "custom_properties": {},
    }
    return {
        "ref": "refs/heads/main",
        "before": shas[0],
        "after": shas[3],
        "repository": repository,
        "pusher": {"name": "octo-dev", "email": "octo-dev@users.noreply.github.com"},
        "sender": {k: v for k, v in account("octo-dev", 1234567).items()
                   if k not in ("name", "email")},
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{html}/compare/{shas[0][:12]}...{shas[3][:12]}",
        "commits": commits,
        "head_commit": commits[-1],
    }


def payload(path):
    # Compact, as GitHub sends it.
    body = json.dumps(push_payload(), separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(body)
    print(len(body))


def signature(body, secret):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign(path, secret):
    with open(path, "rb") as f:
        print(signature(f.read(), secret))


def our_config(path, secret):
    text = f"""# Written by bench/webhook/helper.py: the bench's one hook.
[[hooks]]
id = "{HOOK_ID}"
provider = "github"
secret = "{secret}"
events = ["push"]
repos = ["{REPO}"]
command = ["/bin/true"]
"""
    with open(path, "w") as f:
        f.write(text)


def peer_hooks(path, secret):
    """adnanh/webhook's hook doing what ours does: verify X-Hub-Signature-256 over the body,
    accept only push events of org/app, run /bin/true without waiting for it."""
    def header_is(name, value):
        return {"match": {"type": "value", "value": value,
                          "parameter": {"source": "header", "name": name}}}

    hooks = [{
        "id": HOOK_ID,
        "execute-command": "/bin/true",
        "command-working-directory": "/",
        # The default, said explicitly: answer as soon as the command is started.
        "include-command-output-in-response": False,
        "response-message": "queued",
        "trigger-rule": {"and": [
            {"match": {"type": "payload-hmac-sha256", "secret": secret,
                       "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}},
            header_is("X-GitHub-Event", "push"),
            {"match": {"type": "value", "value": REPO,
                       "parameter": {"source": "payload", "name": "repository.full_name"}}},
        ]},
        # A refused delivery answers 401, as ours does (the default would be 200).
        "trigger-rule-mismatch-http-response-code": 401,
    }]
    with open(path, "w") as f:
        json.dump(hooks, f, indent=2)
        f.write("\n")


def request(url, method="GET", body=None, headers=None, timeout=5.0):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def wait_http(url, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            request(url, timeout=1.0)
            return 0
        except OSError:
            time.sleep(0.05)
    print(f"{url} did not answer within {limit} s", file=sys.stderr)
    return 1


def delivery_headers(body, sig, delivery):
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "424242",
        "X-Hub-Signature-256": sig,
        "Content-Length": str(len(body)),
    }


def check(url, body_path, secret):
    with open(body_path, "rb") as f:
        body = f.read()
    stamp = f"{time.time_ns()}"
    good_sig = signature(body, secret)
    bad_sig = signature(body, secret + "-wrong")
    good = request(url, "POST", body, delivery_headers(body, good_sig, f"check-good-{stamp}"))
    bad = request(url, "POST", body, delivery_headers(body, bad_sig, f"check-bad-{stamp}"))
    print(f"good={good[0]} bad={bad[0]}")
    print(good[1].strip().replace("\n", " ")[:200])
    print(bad[1].strip().replace("\n", " ")[:200])
    return 0


def job_state(url, limit):
    deadline = time.monotonic() + limit
    state = "?"
    while time.monotonic() < deadline:
        status, text = request(url)
        if status == 200:
            state = json.loads(text).get("state", "?")
            if state not in ("queued", "running", "waiting", "pending"):
                break
        time.sleep(0.05)
    print(state)


def queued_jobs(url):
    status, text = request(f"{url}/jobs?state=queued&limit=500")
    if status != 200:
        print(f"GET /jobs answered {status}: {text[:200]}", file=sys.stderr)
        return 1
    print(len(json.loads(text)["jobs"]))
    return 0


def job_counts(url):
    status, text = request(f"{url}/metrics")
    if status != 200:
        print(f"GET /metrics answered {status}", file=sys.stderr)
        return 1
    counts = {}
    for line in text.splitlines():
        if line.startswith("webhook_jobs_finished_total{"):
            labels, value = line.rsplit(" ", 1)
            state = labels.split('state="', 1)[1].split('"', 1)[0]
            counts[state] = counts.get(state, 0) + int(float(value))
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v) or "none")
    return 0


def watch_rss(pid, seconds, interval):
    main_kb = tree_kb = children = samples = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            own, total, count = rss_tree(pid)
        except OSError:
            break
        main_kb, tree_kb, children = max(main_kb, own), max(tree_kb, total), max(children, count)
        samples += 1
        time.sleep(interval)
    hwm_kb = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm_kb = int(line.split()[1])
    except OSError:
        pass
    print(f"main_kb={main_kb} tree_kb={tree_kb} children={children} hwm_kb={hwm_kb} "
          f"samples={samples}")


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "free-ports":
        free_ports(int(args[0]))
    elif command == "payload":
        payload(args[0])
    elif command == "sign":
        sign(args[0], args[1])
    elif command == "our-config":
        our_config(args[0], args[1])
    elif command == "peer-hooks":
        peer_hooks(args[0], args[1])
    elif command == "wait-http":
        return wait_http(args[0], float(args[1]))
    elif command == "check":
        return check(args[0], args[1], args[2])
    elif command == "job-state":
        job_state(args[0], float(args[1]))
    elif command == "queued-jobs":
        return queued_jobs(args[0])
    elif command == "job-counts":
        return job_counts(args[0])
    elif command == "watch-rss":
        watch_rss(int(args[0]), float(args[1]), float(args[2]) if len(args) > 2 else 0.1)
    elif command == "cpu":
        cpu(args[0])
    elif command == "rss":
        rss(args[0])
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
