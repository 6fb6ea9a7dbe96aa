//! Running jobs: the payload facts reach the command as data and never as shell code, the
//! per-hook queue coalesces a flood, a timeout kills the whole process group, failed jobs
//! are retried, and jobs and delivery ids survive a restart.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{push_payload, script, spawn_app};

const SECRET: &str = "jobs-secret";

fn hook_config(command: &str, extra: &str) -> String {
    format!("[[hooks]]\nid = \"app\"\nsecret = \"{SECRET}\"\ncommand = [\"{command}\"]\n{extra}\n")
}

fn body(payload: &Value) -> Vec<u8> {
    serde_json::to_vec(payload).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn payload_facts_reach_the_command_verbatim_and_are_never_executed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let pwned = dir.path().join("pwned");
    let command = script(
        dir.path(),
        "show-env.sh",
        &format!(
            "printf '%s\\n' \"$WEBHOOK_EVENT\" \"$WEBHOOK_REPO\" \"$WEBHOOK_REF\" \"$WEBHOOK_BRANCH\" \
             \"$WEBHOOK_COMMIT\" \"$WEBHOOK_PUSHER\" \"$WEBHOOK_DELIVERY\" > {out}\n\
             cat \"$WEBHOOK_PAYLOAD_FILE\" > {out}.payload\n\
             stat -c %a \"$WEBHOOK_PAYLOAD_FILE\" > {out}.mode",
            out = out.display()
        ),
    );
    let app = spawn_app(&hook_config(&command, ""), &dir.path().join("data")).await;
    let injection = format!("main$(touch {0});touch {0}`touch {0}`", pwned.display());
    let mut payload = push_payload("org/app'; touch x; '", &injection, "abc123");
    payload["pusher"]["name"] = json!("\"; rm -rf / #");
    let payload = body(&payload);
    let (status, answer) = app
        .send_github("/hooks/app", SECRET, "push", "inj-1", &payload)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let job = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(10))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    let lines: Vec<String> = read(&out).lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "push".to_string(),
            "org/app'; touch x; '".to_string(),
            format!("refs/heads/{injection}"),
            injection.clone(),
            "abc123".to_string(),
            "\"; rm -rf / #".to_string(),
            "inj-1".to_string(),
        ]
    );
    assert!(!pwned.exists(), "a payload value was executed");
    assert_eq!(
        read(&out.with_extension("txt.payload")).as_bytes(),
        payload.as_slice()
    );
    assert_eq!(read(&out.with_extension("txt.mode")).trim(), "600");
    // The payload file is gone once the job ended.
    assert_eq!(
        std::fs::read_dir(dir.path().join("data/payloads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn fifty_concurrent_deliveries_run_one_process_at_a_time_and_only_the_newest_waits() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs.log");
    let lock = dir.path().join("lock");
    let command = script(
        dir.path(),
        "slow.sh",
        &format!(
            "mkdir {lock} 2>/dev/null || echo OVERLAP >> {log}\n\
             echo \"start $WEBHOOK_JOB_ID\" >> {log}\n\
             sleep 1\n\
             echo \"end $WEBHOOK_JOB_ID\" >> {log}\n\
             rmdir {lock}",
            lock = lock.display(),
            log = log.display()
        ),
    );
    let app = spawn_app(&hook_config(&command, ""), &dir.path().join("data")).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let sends = (0..50).map(|i| {
        let app = &app;
        let payload = &payload;
        async move {
            app.send_github("/hooks/app", SECRET, "push", &format!("flood-{i}"), payload)
                .await
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let mut ids: Vec<i64> = answers
        .iter()
        .map(|(status, answer)| {
            assert_eq!(*status, StatusCode::ACCEPTED, "{answer}");
            answer["job_id"].as_i64().unwrap()
        })
        .collect();
    ids.sort();
    let newest = *ids.last().unwrap();
    let last = app.wait_for_job_end(newest, Duration::from_secs(30)).await;
    assert_eq!(
        last["state"], "succeeded",
        "the newest delivery always runs: {last}"
    );
    let (_, jobs) = app.get_json("/jobs?hook=app&limit=100").await;
    let jobs = jobs["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 50);
    let count = |state: &str| jobs.iter().filter(|j| j["state"] == state).count();
    let ran = count("succeeded");
    assert_eq!(ran + count("superseded"), 50, "{jobs:#?}");
    assert!((1..=3).contains(&ran), "{ran} jobs ran for 50 deliveries");
    for job in jobs.iter().filter(|j| j["state"] == "superseded") {
        assert!(job["reason"]
            .as_str()
            .unwrap()
            .contains("replaced it while it waited"));
    }
    let runs = read(&log);
    assert!(
        !runs.contains("OVERLAP"),
        "two processes ran at once:\n{runs}"
    );
    assert_eq!(runs.lines().count(), ran * 2, "{runs}");
    let (_, metrics) = app.get_text("/metrics").await;
    let superseded = format!(
        "webhook_jobs_finished_total{{hook=\"app\",state=\"superseded\"}} {}",
        count("superseded")
    );
    assert!(
        metrics.contains(&superseded),
        "{superseded} not in:\n{metrics}"
    );
}

#[tokio::test]
async fn senders_that_hang_up_mid_request_never_strand_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(&hook_config("/bin/true", ""), &dir.path().join("data")).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_micros(1500))
        .build()
        .unwrap();
    let sends = (0..200).map(|i| {
        let request = impatient
            .post(format!("{}/hooks/app", app.base))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("gone-{i}"))
            .header(
                "x-hub-signature-256",
                crate::support::github_signature(SECRET, &payload),
            )
            .body(payload.clone());
        async move { request.send().await.is_ok() }
    });
    let answered = futures_util::future::join_all(sends).await;
    let hung_up = answered.iter().filter(|ok| !**ok).count();
    assert!(hung_up > 0, "no sender hung up; the test proves nothing");
    // Every stored job either runs or is superseded: none stays queued for good.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, queued) = app.get_json("/jobs?state=queued").await;
        let (_, running) = app.get_json("/jobs?state=running").await;
        let idle = queued["jobs"].as_array().unwrap().is_empty()
            && running["jobs"].as_array().unwrap().is_empty();
        if idle {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stranded: {queued}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group_grandchildren_too() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let command = script(
        dir.path(),
        "hang.sh",
        &format!(
            "sleep 300 &\necho $! > {}\necho started\nsleep 300",
            pid_file.display()
        ),
    );
    let app = spawn_app(
        &hook_config(&command, "timeout_secs = 1"),
        &dir.path().join("data"),
    )
    .await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let (_, answer) = app
        .send_github("/hooks/app", SECRET, "push", "t-1", &payload)
        .await;
    let job = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(15))
        .await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(
        job["reason"],
        "timed out after 1 s; its process group was killed"
    );
    assert!(job["output"].as_str().unwrap().contains("started"));
    let grandchild: i32 = read(&pid_file)
        .trim()
        .parse()
        .expect("the grandchild's pid");
    let alive = || {
        std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "the grandchild {grandchild} still runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_failed_job_is_retried_and_its_attempts_are_in_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("count");
    let command = script(
        dir.path(),
        "flaky.sh",
        &format!(
            "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}\n\
             echo \"attempt $WEBHOOK_ATTEMPT\"\n[ $n -ge 2 ]",
            c = counter.display()
        ),
    );
    let config = format!(
        "{}\n[jobs]\nretry_backoff_secs = 0\n",
        hook_config(&command, "retries = 2")
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let (_, answer) = app
        .send_github("/hooks/app", SECRET, "push", "r-1", &payload)
        .await;
    let job = app
        .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(15))
        .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2);
    let output = job["output"].as_str().unwrap();
    assert!(output.contains("attempt 1\n"), "{output}");
    assert!(
        output.contains("--- attempt 2 of 3 ---\nattempt 2\n"),
        "{output}"
    );
}

#[tokio::test]
async fn hooks_run_in_parallel_up_to_max_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs.log");
    let command = script(
        dir.path(),
        "slow.sh",
        &format!(
            "echo \"start $(date +%s%N)\" >> {log}; sleep 0.5; echo \"end $(date +%s%N)\" >> {log}",
            log = log.display()
        ),
    );
    let config = format!(
        "[jobs]\nmax_parallel = 1\n\
         [[hooks]]\nid = \"a\"\nsecret = \"{SECRET}\"\ncommand = [\"{command}\"]\n\
         [[hooks]]\nid = \"b\"\nsecret = \"{SECRET}\"\ncommand = [\"{command}\"]\n"
    );
    let app = spawn_app(&config, &dir.path().join("data")).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let (_, a) = app
        .send_github("/hooks/a", SECRET, "push", "p-a", &payload)
        .await;
    let (_, b) = app
        .send_github("/hooks/b", SECRET, "push", "p-b", &payload)
        .await;
    for answer in [a, b] {
        let job = app
            .wait_for_job_end(answer["job_id"].as_i64().unwrap(), Duration::from_secs(10))
            .await;
        assert_eq!(job["state"], "succeeded");
    }
    // With one slot the two runs follow each other: start, end, start, end.
    let order: Vec<String> = read(&log)
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(order, ["start", "end", "start", "end"]);
}

#[tokio::test]
async fn a_restart_interrupts_the_running_job_resumes_the_waiting_one_and_keeps_delivery_ids() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let command = script(
        dir.path(),
        "slow.sh",
        "echo \"run $WEBHOOK_JOB_ID\"; sleep 2",
    );
    let config = hook_config(&command, "");
    let payload = body(&push_payload("org/app", "main", "abc"));

    let app = spawn_app(&config, &data).await;
    let (_, first) = app
        .send_github("/hooks/app", SECRET, "push", "keep-1", &payload)
        .await;
    let first = first["job_id"].as_i64().unwrap();
    app.wait_for_job(first, Duration::from_secs(10), |j| {
        j["state"] == "running" && j["output"].as_str().is_some_and(|o| o.contains("run"))
    })
    .await;
    let (_, second) = app
        .send_github("/hooks/app", SECRET, "push", "keep-2", &payload)
        .await;
    let second = second["job_id"].as_i64().unwrap();
    app.stop().await;

    let app = spawn_app(&config, &data).await;
    let (_, interrupted) = app.get_json(&format!("/jobs/{first}")).await;
    assert_eq!(interrupted["state"], "interrupted", "{interrupted}");
    assert!(interrupted["output"]
        .as_str()
        .unwrap()
        .contains(&format!("run {first}")));
    let resumed = app.wait_for_job_end(second, Duration::from_secs(10)).await;
    assert_eq!(resumed["state"], "succeeded", "{resumed}");
    let (status, again) = app
        .send_github("/hooks/app", SECRET, "push", "keep-1", &payload)
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
}

#[tokio::test]
async fn the_running_jobs_output_streams_live_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let command = script(dir.path(), "talk.sh", "echo one; sleep 1; echo two");
    let app = spawn_app(&hook_config(&command, ""), &dir.path().join("data")).await;
    let payload = body(&push_payload("org/app", "main", "abc"));
    let (_, answer) = app
        .send_github("/hooks/app", SECRET, "push", "s-1", &payload)
        .await;
    let id = answer["job_id"].as_i64().unwrap();
    app.wait_for_job(id, Duration::from_secs(10), |j| j["state"] == "running")
        .await;
    let response = app
        .client
        .get(format!("{}/jobs/{id}/stream", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .expect("the stream ends with the job")
        .unwrap();
    let texts: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(texts, "one\ntwo\n", "{text}");
    assert!(
        text.contains("event: end\ndata: {\"state\":\"succeeded\"}"),
        "{text}"
    );
    let (_, log) = app.get_text(&format!("/jobs/{id}/log")).await;
    assert_eq!(log, "one\ntwo\n");
}
