//! Email through a real SMTP server (aiosmtpd) in plain, STARTTLS and implicit-TLS modes.

use std::time::Duration;

use service_kit::alert::{
    AlertDispatcher, AlertError, DeliveryPolicy, Dispatch, Sink, SmtpSecurity, SmtpSettings,
};
use service_kit_testing::{ReceivedMail, SmtpMode, SmtpServer};

use crate::support::{api_down, fast_policy, PATIENCE};

const FROM: &str = "sidecars@example.com";
const TO: &str = "alerts@example.com";

/// Settings for the test server on `port`.
fn settings(port: u16, security: SmtpSecurity) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security,
        timeout: Duration::from_secs(5),
        ..SmtpSettings::default()
    }
}

fn email_dispatcher(settings: SmtpSettings, to: &[&str]) -> AlertDispatcher {
    let to: Vec<String> = to.iter().map(ToString::to_string).collect();
    let sink = Sink::email(settings, FROM, &to).expect("valid email sink");
    let policy = DeliveryPolicy {
        timeout: Duration::from_secs(10),
        ..fast_policy()
    };
    AlertDispatcher::new(vec![sink], policy)
}

/// The message every email test expects for [`api_down`].
fn assert_is_api_down_mail(mail: &ReceivedMail) {
    assert_eq!(mail.from, FROM);
    assert_eq!(mail.to, vec![TO.to_string()]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("[CRITICAL] api is DOWN")
    );
    assert_eq!(mail.header("From").as_deref(), Some(FROM));
    assert_eq!(mail.header("To").as_deref(), Some(TO));
    assert!(
        mail.header("Content-Type")
            .is_some_and(|v| v.starts_with("text/plain")),
        "{}",
        mail.data
    );
    assert_eq!(
        mail.body(),
        "connection refused\n\nservice: api\nstate: down\n\nhttp://localhost:9100/dashboard\n"
    );
}

#[tokio::test]
async fn email_is_delivered_over_plain_smtp() {
    let Some(server) = SmtpServer::start(SmtpMode::Plain, None).await else {
        return;
    };
    let alerts = email_dispatcher(settings(server.port(), SmtpSecurity::None), &[TO]);

    let outcome = alerts.send(api_down()).await;

    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec![TO.to_string()],
            failed: vec![]
        }
    );
    let mails = server.wait_for_messages(1, PATIENCE).await;
    assert_eq!(mails.len(), 1);
    assert_is_api_down_mail(&mails[0]);
}

#[tokio::test]
async fn email_is_delivered_over_starttls_with_auth_to_a_self_signed_relay() {
    let Some(server) = SmtpServer::start(SmtpMode::StartTls, Some(("alerts", "s3cret"))).await
    else {
        return;
    };
    let alerts = email_dispatcher(
        SmtpSettings {
            username: Some("alerts".into()),
            password: Some("s3cret".into()),
            accept_invalid_certs: true,
            ..settings(server.port(), SmtpSecurity::StartTls)
        },
        &[TO],
    );

    let outcome = alerts.send(api_down()).await;

    assert!(
        matches!(outcome, Dispatch::Delivered { ref failed, .. } if failed.is_empty()),
        "{outcome:?}\nserver stderr:\n{}",
        server.stderr()
    );
    let mails = server.wait_for_messages(1, PATIENCE).await;
    assert_is_api_down_mail(&mails[0]);
}

#[tokio::test]
async fn email_is_delivered_over_implicit_tls() {
    let Some(server) = SmtpServer::start(SmtpMode::Tls, None).await else {
        return;
    };
    let alerts = email_dispatcher(
        SmtpSettings {
            accept_invalid_certs: true,
            ..settings(server.port(), SmtpSecurity::Tls)
        },
        &[TO],
    );

    let outcome = alerts.send(api_down()).await;

    assert!(
        matches!(outcome, Dispatch::Delivered { ref failed, .. } if failed.is_empty()),
        "{outcome:?}\nserver stderr:\n{}",
        server.stderr()
    );
    let mails = server.wait_for_messages(1, PATIENCE).await;
    assert_is_api_down_mail(&mails[0]);
}

#[tokio::test]
async fn email_goes_to_every_recipient_and_is_described_by_them() {
    let Some(server) = SmtpServer::start(SmtpMode::Plain, None).await else {
        return;
    };
    let alerts = email_dispatcher(
        settings(server.port(), SmtpSecurity::None),
        &["alerts@example.com", "Ops <ops@example.com>"],
    );

    let outcome = alerts.send(api_down()).await;

    assert_eq!(
        outcome,
        Dispatch::Delivered {
            sinks: vec!["alerts@example.com, Ops <ops@example.com>".to_string()],
            failed: vec![]
        }
    );
    let mails = server.wait_for_messages(1, PATIENCE).await;
    assert_eq!(mails[0].to, vec!["alerts@example.com", "ops@example.com"]);
}

#[tokio::test]
async fn self_signed_relay_is_refused_unless_invalid_certs_are_accepted() {
    let Some(server) = SmtpServer::start(SmtpMode::Tls, None).await else {
        return;
    };
    let alerts = email_dispatcher(settings(server.port(), SmtpSecurity::Tls), &[TO]);

    let Dispatch::Delivered { sinks, failed } = alerts.send(api_down()).await else {
        panic!("expected a delivery attempt");
    };

    assert!(sinks.is_empty());
    assert!(failed[0].1.contains("certificate"), "{failed:?}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn wrong_password_is_a_permanent_failure() {
    let Some(server) = SmtpServer::start(SmtpMode::StartTls, Some(("alerts", "s3cret"))).await
    else {
        return;
    };
    let alerts = email_dispatcher(
        SmtpSettings {
            username: Some("alerts".into()),
            password: Some("wrong".into()),
            accept_invalid_certs: true,
            ..settings(server.port(), SmtpSecurity::StartTls)
        },
        &[TO],
    );

    let Dispatch::Delivered { sinks, failed } = alerts.send(api_down()).await else {
        panic!("expected a delivery attempt");
    };

    assert!(sinks.is_empty());
    assert!(failed[0].1.contains("535"), "{failed:?}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn email_after_the_cooldown_mentions_the_suppressed_alerts() {
    let Some(server) = SmtpServer::start(SmtpMode::Plain, None).await else {
        return;
    };
    let sink = Sink::email(
        settings(server.port(), SmtpSecurity::None),
        FROM,
        &[TO.to_string()],
    )
    .unwrap();
    let cooldown = Duration::from_secs(1);
    let alerts = AlertDispatcher::new(
        vec![sink],
        DeliveryPolicy {
            cooldown,
            ..fast_policy()
        },
    );
    alerts.send(api_down()).await;
    alerts.send(api_down()).await;
    alerts.send(api_down()).await;

    tokio::time::sleep(cooldown + Duration::from_millis(50)).await;
    alerts.send(api_down()).await;

    let mails = server.wait_for_messages(2, PATIENCE).await;
    assert_eq!(mails.len(), 2);
    assert!(
        mails[1]
            .body()
            .starts_with("connection refused\n(2 more suppressed)\n\nservice: api\n"),
        "{}",
        mails[1].body()
    );
}

#[test]
fn invalid_sender_address_is_rejected_at_construction() {
    let err =
        Sink::email(SmtpSettings::default(), "not an address", &[TO.to_string()]).unwrap_err();

    let AlertError::InvalidAddress { ref address, .. } = err else {
        panic!("expected InvalidAddress, got {err:?}");
    };
    assert_eq!(address, "not an address");
    assert!(
        err.to_string()
            .starts_with("invalid email address `not an address`: "),
        "{err}"
    );
}

#[test]
fn invalid_recipient_address_is_rejected_at_construction() {
    let to = vec![TO.to_string(), "ops@".to_string()];

    let err = Sink::email(SmtpSettings::default(), FROM, &to).unwrap_err();

    assert!(
        matches!(err, AlertError::InvalidAddress { ref address, .. } if address == "ops@"),
        "{err:?}"
    );
}

#[test]
fn email_sink_without_recipients_is_rejected_at_construction() {
    let err = Sink::email(SmtpSettings::default(), FROM, &[]).unwrap_err();

    assert_eq!(err, AlertError::NoRecipients);
}

#[test]
fn smtp_password_never_appears_in_debug_output() {
    let settings = SmtpSettings {
        username: Some("alerts".into()),
        password: Some("s3cret".into()),
        ..SmtpSettings::default()
    };

    assert!(!format!("{settings:?}").contains("s3cret"));
}
