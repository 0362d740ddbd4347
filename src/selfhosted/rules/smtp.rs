//! SMTP: the template's fake mail settings (`supabase-mail`, port 2500,
//! `fake_mail_user`...) make Auth's confirmation, invitation and recovery
//! mails go nowhere; ports other than the usual submission ports get a note.

use super::Context;
use crate::selfhosted::finding::{Finding, Severity};

/// Template values that stand for "no real mail server".
const FAKE: &[(&str, &str)] = &[
    ("SMTP_HOST", "supabase-mail"),
    ("SMTP_PORT", "2500"),
    ("SMTP_USER", "fake_mail_user"),
    ("SMTP_PASS", "fake_mail_password"),
    ("SMTP_SENDER_NAME", "fake_sender"),
    ("SMTP_ADMIN_EMAIL", "admin@example.com"),
];

/// Ports real mail providers accept.
const REAL_PORTS: &[&str] = &["25", "465", "587", "2525"];

pub(super) fn check(ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, fake) in FAKE {
        let Some(value) = ctx.get(name) else {
            continue;
        };
        let example_domain = *name == "SMTP_ADMIN_EMAIL"
            && ["@example.com", "@example.org", "@example.net"]
                .iter()
                .any(|d| value.to_ascii_lowercase().ends_with(d));
        if value != *fake && !example_domain {
            continue;
        }
        out.push(
            ctx.finding("fake_smtp", Severity::Warning, name)
                .message(format!(
                    "{name} is the template's placeholder: sign-up confirmations, invitations and password resets are never delivered"
                ))
                .expected(match *name {
                    "SMTP_HOST" => "your mail provider's SMTP host".to_owned(),
                    "SMTP_PORT" => "587 (STARTTLS) or 465 (TLS)".to_owned(),
                    "SMTP_ADMIN_EMAIL" => "a real sender address of your domain".to_owned(),
                    "SMTP_SENDER_NAME" => "your application's name".to_owned(),
                    _ => "your mail provider's credentials".to_owned(),
                })
                .fix("Enter your mail provider's SMTP settings (they cannot be generated)."),
        );
    }
    if let Some(port) = ctx.get("SMTP_PORT")
        && port != "2500"
        && !REAL_PORTS.contains(&port)
    {
        out.push(
            ctx.finding("smtp_port", Severity::Info, "SMTP_PORT")
                .message(format!(
                    "SMTP_PORT {port} is not a usual mail submission port"
                ))
                .expected("587, 465, 25 or 2525")
                .fix("Check the port your mail provider documents."),
        );
    }
    out
}
