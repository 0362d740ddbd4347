//! `list_auth_users`, `get_auth_user`, `create_auth_user`,
//! `update_auth_user`, `delete_auth_user`: the Auth admin API when it is
//! configured (SQL on `auth.users` when it cannot be reached), else SQL.
//! Results name the path taken and never hold a password, a hash or a token.

use std::num::NonZeroU64;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{
    AuthPath, FALLBACK_WARNING, MAX_SCAN_USERS, Via, choose, email, fallback, object_arg, paging,
    phone, scrub, time, user_id,
};
use super::password::{self, PasswordSource};
use super::user_sql::{self, Changes, Filters, Key, NewUser};
use crate::api::generated::auth::types::{
    AdminDeleteUserParams, AdminUserParams, InviteRequest, User,
};
use crate::api::{ApiError, AuthApi};
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::secret::Secret;
use crate::server::call::Call;

/// Users read per API page while a filter scans every page.
const SCAN_PAGE: u32 = 500;
/// Longest ban `ban_duration` accepts (100 years, as GoTrue's "forever").
const MAX_BAN_SECONDS: i64 = 876_000 * 3600;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Page number, from 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Users per page (default 50, max 1000).
    #[serde(default)]
    pub per_page: Option<u32>,
    /// Only emails containing this text.
    #[serde(default)]
    pub email: Option<String>,
    /// Only phone numbers containing these digits.
    #[serde(default)]
    pub phone: Option<String>,
    /// Only users with this sign-in provider (email, phone, google...).
    #[serde(default)]
    pub provider: Option<String>,
    /// Created at or after (date or RFC 3339).
    #[serde(default)]
    pub created_after: Option<String>,
    /// Created before (date or RFC 3339).
    #[serde(default)]
    pub created_before: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// The user's id (UUID).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Or the user's email address.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    #[serde(default)]
    pub email: Option<String>,
    /// E.164, e.g. +14155550123.
    #[serde(default)]
    pub phone: Option<String>,
    /// File on the server holding the password (else one is generated and not shown).
    #[serde(default)]
    pub password_file: Option<String>,
    /// Server environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Send an invitation email instead of setting a password (API only).
    #[serde(default)]
    pub invite: bool,
    #[serde(default)]
    pub user_metadata: Option<Value>,
    #[serde(default)]
    pub app_metadata: Option<Value>,
    /// Mark the email confirmed (default true).
    #[serde(default)]
    pub email_confirm: Option<bool>,
    /// Mark the phone confirmed (default true).
    #[serde(default)]
    pub phone_confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArgs {
    pub user_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// File on the server holding the new password.
    #[serde(default)]
    pub password_file: Option<String>,
    /// Server environment variable holding the new password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Merged into the user's metadata (a null value removes a key).
    #[serde(default)]
    pub user_metadata: Option<Value>,
    /// Merged into the app metadata.
    #[serde(default)]
    pub app_metadata: Option<Value>,
    /// Block sign-in for e.g. "24h", "90m", "1h30m"; "none" lifts a ban.
    #[serde(default)]
    pub ban_duration: Option<String>,
    /// Database role recorded on the user.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub email_confirm: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    pub user_id: String,
    /// Keep the record marked deleted, email and phone removed.
    #[serde(default)]
    pub soft: bool,
}

// ---------------------------------------------------------------------------
// Shapes

/// The API's user as a result shows it (credential fields removed).
pub fn api_user(u: &User) -> Value {
    let mut v = serde_json::to_value(u).unwrap_or(Value::Null);
    scrub(&mut v);
    v
}

/// A user row of a listing.
pub fn compact(u: &Value) -> Value {
    let app = u.get("app_metadata");
    let providers = app
        .and_then(|a| a.get("providers"))
        .cloned()
        .or_else(|| app.and_then(|a| a.get("provider")).map(|p| json!([p])))
        .unwrap_or_else(|| json!([]));
    let set = |k: &str| u.get(k).is_some_and(|v| !v.is_null());
    json!({
        "id": u.get("id"),
        "email": u.get("email"),
        "phone": u.get("phone"),
        "providers": providers,
        "created_at": u.get("created_at"),
        "last_sign_in_at": u.get("last_sign_in_at"),
        "confirmed": set("confirmed_at") || set("email_confirmed_at") || set("phone_confirmed_at"),
        "banned_until": u.get("banned_until"),
    })
}

fn not_found(what: &str) -> ToolError {
    ToolError::new(ErrorCode::NotFound, format!("no user {what}"))
        .suggestion("list_auth_users shows the users (filter by email to find one).")
}

fn is_not_found(e: &ApiError) -> bool {
    e.status() == Some(404)
}

fn page_arg(n: u32) -> Option<NonZeroU64> {
    NonZeroU64::new(u64::from(n))
}

/// Reads every page of users (up to [`MAX_SCAN_USERS`]); true when more remained.
async fn scan(api: &AuthApi) -> Result<(Vec<User>, bool), ApiError> {
    let mut all = Vec::new();
    let mut page = 1u32;
    loop {
        let list = api
            .idempotent(|c| c.admin_list_users(page_arg(page), page_arg(SCAN_PAGE)))
            .await?;
        let n = list.users.len();
        all.extend(list.users);
        if n < SCAN_PAGE as usize {
            return Ok((all, false));
        }
        if all.len() >= MAX_SCAN_USERS {
            return Ok((all, true));
        }
        page += 1;
    }
}

// ---------------------------------------------------------------------------
// list_auth_users

struct ListFilter {
    sql: Filters,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
}

impl ListFilter {
    fn parse(a: &ListArgs) -> Result<ListFilter, ToolError> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let email = text(&a.email).map(|e| e.to_lowercase());
        let phone =
            text(&a.phone).map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>());
        if phone.as_deref() == Some("") {
            return Err(ToolError::invalid("`phone` holds no digits")
                .suggestion("Pass digits of the number, e.g. 4155550123."));
        }
        let provider = text(&a.provider).map(|p| p.to_lowercase());
        if let Some(p) = &provider
            && !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(ToolError::invalid(format!("`{p}` is not a provider name"))
                .suggestion("Use a provider such as email, phone, google, github, sso:<id>."));
        }
        let after = a
            .created_after
            .as_deref()
            .map(|t| time("created_after", t))
            .transpose()?;
        let before = a
            .created_before
            .as_deref()
            .map(|t| time("created_before", t))
            .transpose()?;
        if let (Some(x), Some(y)) = (after, before)
            && x >= y
        {
            return Err(
                ToolError::invalid("`created_after` is not before `created_before`")
                    .suggestion("Swap the two times."),
            );
        }
        Ok(ListFilter {
            sql: Filters {
                email,
                phone,
                provider,
                created_after: after.map(|t| t.to_rfc3339()),
                created_before: before.map(|t| t.to_rfc3339()),
            },
            after,
            before,
        })
    }

    fn any(&self) -> bool {
        let f = &self.sql;
        f.email.is_some()
            || f.phone.is_some()
            || f.provider.is_some()
            || self.after.is_some()
            || self.before.is_some()
    }

    fn matches(&self, u: &User) -> bool {
        let f = &self.sql;
        let email_ok = f.email.as_deref().is_none_or(|e| {
            u.email
                .as_deref()
                .is_some_and(|x| x.to_lowercase().contains(e))
        });
        let phone_ok = f
            .phone
            .as_deref()
            .is_none_or(|p| u.phone.as_deref().is_some_and(|x| x.contains(p)));
        let provider_ok = f.provider.as_deref().is_none_or(|p| {
            let app = &u.app_metadata;
            app.get("provider").and_then(Value::as_str) == Some(p)
                || app
                    .get("providers")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(p)))
        });
        let after_ok = self
            .after
            .is_none_or(|t| u.created_at.is_some_and(|c| c >= t));
        let before_ok = self
            .before
            .is_none_or(|t| u.created_at.is_some_and(|c| c < t));
        email_ok && phone_ok && provider_ok && after_ok && before_ok
    }
}

pub async fn list_auth_users(call: Call, a: ListArgs) -> Result<ToolOutput, ToolError> {
    let (page, per_page) = paging(a.page, a.per_page)?;
    let filter = ListFilter::parse(&a)?;
    let mut warnings = Vec::new();
    let db = match choose(&call).await? {
        AuthPath::Api(api) => match list_api(&api, &filter, page, per_page).await {
            Ok((out, w)) => {
                let mut out = ToolOutput::untrusted(out);
                for w in w {
                    out = out.warn(w);
                }
                return Ok(out);
            }
            Err(e) => {
                let db = fallback(&call, e).await?;
                warnings.push(FALLBACK_WARNING.to_owned());
                db
            }
        },
        AuthPath::Sql(db) => db,
    };
    let (rows, total) = user_sql::list(&db, &filter.sql, page, per_page).await?;
    let users: Vec<Value> = rows.iter().map(compact).collect();
    let shown = users.len();
    let mut out = ToolOutput::untrusted(json!({
        "via": Via::Sql.as_str(),
        "page": page,
        "per_page": per_page,
        "count": shown,
        "total": total,
        "has_more": i64::from(page - 1) * i64::from(per_page) + (shown as i64) < total,
        "users": users,
    }));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}

async fn list_api(
    api: &AuthApi,
    filter: &ListFilter,
    page: u32,
    per_page: u32,
) -> Result<(Value, Vec<String>), ApiError> {
    if !filter.any() {
        let list = api
            .idempotent(|c| c.admin_list_users(page_arg(page), page_arg(per_page)))
            .await?;
        let users: Vec<Value> = list.users.iter().map(|u| compact(&api_user(u))).collect();
        let n = users.len();
        return Ok((
            json!({
                "via": Via::Api.as_str(),
                "page": page,
                "per_page": per_page,
                "count": n,
                "has_more": n == per_page as usize,
                "users": users,
            }),
            Vec::new(),
        ));
    }
    let (all, truncated) = scan(api).await?;
    let mut matching: Vec<&User> = all.iter().filter(|u| filter.matches(u)).collect();
    matching.sort_by_key(|u| std::cmp::Reverse(u.created_at));
    let total = matching.len();
    let start = (page as usize - 1) * per_page as usize;
    let users: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(per_page as usize)
        .map(|u| compact(&api_user(u)))
        .collect();
    let mut warnings = Vec::new();
    if truncated {
        warnings.push(format!(
            "only the first {MAX_SCAN_USERS} users were searched; with a database URL (--db-url) the filter runs in SQL over every user"
        ));
    }
    Ok((
        json!({
            "via": Via::Api.as_str(),
            "page": page,
            "per_page": per_page,
            "count": users.len(),
            "total": total,
            "has_more": start + users.len() < total,
            "users": users,
        }),
        warnings,
    ))
}

// ---------------------------------------------------------------------------
// get_auth_user

fn key_of(a: &GetArgs) -> Result<Key, ToolError> {
    match (a.user_id.as_deref(), a.email.as_deref()) {
        (Some(id), None) => Ok(Key::Id(user_id(id)?)),
        (None, Some(e)) => Ok(Key::Email(email(e)?)),
        (Some(_), Some(_)) => Err(ToolError::invalid("give `user_id` or `email`, not both")
            .suggestion("Pass one of them.")),
        (None, None) => Err(ToolError::invalid("`user_id` or `email` is required")
            .suggestion("Pass the user's id (list_auth_users shows it) or email address.")),
    }
}

fn key_text(k: &Key) -> String {
    match k {
        Key::Id(id) => format!("with id {id}"),
        Key::Email(e) => format!("with email {e}"),
    }
}

async fn get_api(api: &AuthApi, key: &Key) -> Result<Option<Value>, ApiError> {
    match key {
        Key::Id(id) => match api.idempotent(|c| c.admin_get_user(id)).await {
            Ok(u) => Ok(Some(api_user(&u))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        },
        Key::Email(e) => {
            let (all, _) = scan(api).await?;
            Ok(all
                .iter()
                .find(|u| {
                    u.email
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case(e))
                })
                .map(api_user))
        }
    }
}

/// The full user by the path of the call, with the path taken.
async fn fetch(call: &Call, key: &Key) -> Result<(Option<Value>, Via, bool), ToolError> {
    let db = match choose(call).await? {
        AuthPath::Api(api) => match get_api(&api, key).await {
            Ok(u) => return Ok((u, Via::Api, false)),
            Err(e) => fallback(call, e).await?,
        },
        AuthPath::Sql(db) => {
            return Ok((
                user_sql::get(&db, key).await?.map(scrubbed),
                Via::Sql,
                false,
            ));
        }
    };
    Ok((user_sql::get(&db, key).await?.map(scrubbed), Via::Sql, true))
}

fn scrubbed(mut v: Value) -> Value {
    scrub(&mut v);
    v
}

fn with_fallback(out: ToolOutput, fell_back: bool) -> ToolOutput {
    if fell_back {
        out.warn(FALLBACK_WARNING)
    } else {
        out
    }
}

pub async fn get_auth_user(call: Call, a: GetArgs) -> Result<ToolOutput, ToolError> {
    let key = key_of(&a)?;
    let (user, via, fell_back) = fetch(&call, &key).await?;
    let Some(user) = user else {
        return Err(not_found(&key_text(&key)));
    };
    Ok(with_fallback(
        ToolOutput::untrusted(json!({"via": via.as_str(), "user": user})),
        fell_back,
    ))
}

// ---------------------------------------------------------------------------
// create_auth_user

/// What a result says about the password (never the value).
fn password_note(src: Option<&PasswordSource>) -> String {
    match src {
        Some(PasswordSource::File(p)) => format!("set from the file {p} (not shown)"),
        Some(PasswordSource::Env(n)) => format!("set from the environment variable {n} (not shown)"),
        None => "a random password was set and is not shown; the user signs in after a password reset (generate_link type recovery) or with a magic link".to_owned(),
    }
}

pub async fn create_auth_user(call: Call, a: CreateArgs) -> Result<ToolOutput, ToolError> {
    let email = a.email.as_deref().map(email).transpose()?;
    let phone = a.phone.as_deref().map(phone).transpose()?;
    if email.is_none() && phone.is_none() {
        return Err(ToolError::invalid("`email` or `phone` is required")
            .suggestion("Pass the new user's email address (or phone number)."));
    }
    let src = password::source(a.password_file.as_deref(), a.password_env.as_deref())?;
    let user_metadata = object_arg("user_metadata", a.user_metadata.clone())?.unwrap_or_default();
    let app_metadata = object_arg("app_metadata", a.app_metadata.clone())?.unwrap_or_default();
    if a.invite {
        if email.is_none() {
            return Err(ToolError::invalid("an invitation needs `email`")
                .suggestion("Pass the address to send the invitation to."));
        }
        if src.is_some() || !app_metadata.is_empty() || phone.is_some() {
            return Err(ToolError::invalid(
                "an invitation takes only `email` and `user_metadata`",
            )
            .reason("the invited user chooses a password; other fields cannot be sent with an invitation")
            .suggestion("Leave out the password, phone and app_metadata, and set them with update_auth_user later."));
        }
    }
    let password: Secret = match &src {
        Some(s) => s.read(&call).await?,
        None if a.invite => Secret::new(""),
        None => password::generate(&call)?,
    };
    let email_confirm = a.email_confirm.unwrap_or(true);
    let phone_confirm = a.phone_confirm.unwrap_or(true);
    let mut fell_back = false;
    let db = match choose(&call).await? {
        AuthPath::Api(api) => {
            let result = if a.invite {
                let body = InviteRequest {
                    data: user_metadata.clone(),
                    email: email.clone().unwrap_or_default(),
                };
                api.call(|c| c.invite_user(&body)).await
            } else {
                let body = AdminUserParams {
                    email: email.clone(),
                    phone: phone.clone(),
                    password: Some(password.expose().to_owned()),
                    email_confirm: email.as_ref().map(|_| email_confirm),
                    phone_confirm: phone.as_ref().map(|_| phone_confirm),
                    user_metadata: user_metadata.clone(),
                    app_metadata: app_metadata.clone(),
                    ..Default::default()
                };
                api.call(|c| c.admin_create_user(&body)).await
            };
            match result {
                Ok(u) => {
                    let note = if a.invite {
                        "an invitation email was sent; the user sets a password from it".to_owned()
                    } else {
                        password_note(src.as_ref())
                    };
                    return Ok(ToolOutput::untrusted(json!({
                        "via": Via::Api.as_str(),
                        "user": api_user(&u),
                        "password": note,
                    })));
                }
                Err(e) => {
                    fell_back = true;
                    fallback(&call, e).await?
                }
            }
        }
        AuthPath::Sql(db) => db,
    };
    if a.invite {
        return Err(ToolError::new(
            ErrorCode::NotConfigured,
            "invitations need the Auth API (it sends the email)",
        )
        .suggestion("Configure --supabase-url and --service-role-key, or create the user with a password and send a link yourself."));
    }
    let new = NewUser {
        email_confirm: email.is_some() && email_confirm,
        phone_confirm: phone.is_some() && phone_confirm,
        email,
        phone,
        password,
        user_metadata,
        app_metadata,
    };
    let id = user_sql::create(&db, &new).await?;
    let user = user_sql::get(&db, &Key::Id(id)).await?.map(scrubbed);
    Ok(with_fallback(
        ToolOutput::untrusted(json!({
            "via": Via::Sql.as_str(),
            "user": user,
            "password": password_note(src.as_ref()),
        })),
        fell_back,
    ))
}

// ---------------------------------------------------------------------------
// update_auth_user

/// Seconds of a ban duration such as `24h` or `1h30m`; `None` for `none`.
pub fn ban_seconds(raw: &str) -> Result<Option<i64>, ToolError> {
    let s = raw.trim().to_ascii_lowercase();
    if s == "none" {
        return Ok(None);
    }
    let bad = || {
        ToolError::invalid(format!("`{}` is not a ban duration", raw.trim()))
            .suggestion("Write a duration such as 24h, 90m, 1h30m or 3600s, or none to lift a ban.")
    };
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    if total > MAX_BAN_SECONDS {
        return Err(
            ToolError::invalid("the ban is longer than 876000h (100 years)")
                .suggestion("Use 876000h for a ban that never ends, or delete the user."),
        );
    }
    Ok(Some(total))
}

fn role_arg(raw: &str) -> Result<String, ToolError> {
    let r = raw.trim();
    if r.is_empty() || r.len() > 63 || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ToolError::invalid(format!("`{r}` is not a role name"))
            .suggestion("Use a database role such as authenticated."));
    }
    Ok(r.to_owned())
}

pub async fn update_auth_user(call: Call, a: UpdateArgs) -> Result<ToolOutput, ToolError> {
    let id = user_id(&a.user_id)?;
    let email = a.email.as_deref().map(email).transpose()?;
    let phone = a.phone.as_deref().map(phone).transpose()?;
    let src = password::source(a.password_file.as_deref(), a.password_env.as_deref())?;
    let user_metadata = object_arg("user_metadata", a.user_metadata.clone())?;
    let app_metadata = object_arg("app_metadata", a.app_metadata.clone())?;
    let ban = a.ban_duration.as_deref().map(ban_seconds).transpose()?;
    let role = a.role.as_deref().map(role_arg).transpose()?;
    let mut changed: Vec<&str> = Vec::new();
    for (name, set) in [
        ("email", email.is_some()),
        ("phone", phone.is_some()),
        ("password", src.is_some()),
        ("user_metadata", user_metadata.is_some()),
        ("app_metadata", app_metadata.is_some()),
        ("ban_duration", ban.is_some()),
        ("role", role.is_some()),
        ("email_confirm", a.email_confirm.is_some()),
    ] {
        if set {
            changed.push(name);
        }
    }
    if changed.is_empty() {
        return Err(ToolError::invalid("nothing to change")
            .suggestion("Pass at least one of email, phone, password_file/password_env, user_metadata, app_metadata, ban_duration, role, email_confirm."));
    }
    let password = match &src {
        Some(s) => Some(s.read(&call).await?),
        None => None,
    };
    let mut fell_back = false;
    let db = match choose(&call).await? {
        AuthPath::Api(api) => {
            let body = AdminUserParams {
                email: email.clone(),
                phone: phone.clone(),
                password: password.as_ref().map(|p| p.expose().to_owned()),
                user_metadata: user_metadata.clone().unwrap_or_default(),
                app_metadata: app_metadata.clone().unwrap_or_default(),
                ban_duration: a
                    .ban_duration
                    .as_deref()
                    .map(|b| b.trim().to_ascii_lowercase()),
                role: role.clone(),
                email_confirm: a.email_confirm,
                ..Default::default()
            };
            match api.call(|c| c.admin_update_user(&id, &body)).await {
                Ok(u) => {
                    return Ok(ToolOutput::untrusted(json!({
                        "via": Via::Api.as_str(),
                        "updated": changed,
                        "user": api_user(&u),
                    })));
                }
                Err(e) if is_not_found(&e) => return Err(not_found(&format!("with id {id}"))),
                Err(e) => {
                    fell_back = true;
                    fallback(&call, e).await?
                }
            }
        }
        AuthPath::Sql(db) => db,
    };
    let changes = Changes {
        email,
        phone,
        password,
        email_confirm: a.email_confirm,
        user_metadata,
        app_metadata,
        ban_seconds: ban,
        role,
    };
    if !user_sql::update(&db, id, &changes).await? {
        return Err(not_found(&format!("with id {id}")));
    }
    let user = user_sql::get(&db, &Key::Id(id)).await?.map(scrubbed);
    Ok(with_fallback(
        ToolOutput::untrusted(json!({"via": Via::Sql.as_str(), "updated": changed, "user": user})),
        fell_back,
    ))
}

// ---------------------------------------------------------------------------
// delete_auth_user

pub async fn delete_auth_user(call: Call, a: DeleteArgs) -> Result<ToolOutput, ToolError> {
    let id = user_id(&a.user_id)?;
    let how = if a.soft { "soft" } else { "hard" };
    let mut fell_back = false;
    let db = match choose(&call).await? {
        AuthPath::Api(api) => {
            let body = AdminDeleteUserParams {
                should_soft_delete: a.soft.then_some(true),
            };
            match api.call(|c| c.admin_delete_user(&id, &body)).await {
                Ok(_) => {
                    return Ok(ToolOutput::trusted(json!({
                        "via": Via::Api.as_str(), "deleted": id.to_string(), "mode": how,
                    })));
                }
                Err(e) if is_not_found(&e) => return Err(not_found(&format!("with id {id}"))),
                Err(e) => {
                    fell_back = true;
                    fallback(&call, e).await?
                }
            }
        }
        AuthPath::Sql(db) => db,
    };
    if !user_sql::delete(&db, id, a.soft).await? {
        return Err(not_found(&format!("with id {id}")));
    }
    Ok(with_fallback(
        ToolOutput::trusted(json!({
            "via": Via::Sql.as_str(), "deleted": id.to_string(), "mode": how,
            "note": if a.soft { "the record stays, marked deleted; its identities and sessions were removed" } else { "the user, its identities, sessions and factors were removed" },
        })),
        fell_back,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_durations_parse() {
        assert_eq!(ban_seconds("24h").unwrap(), Some(86_400));
        assert_eq!(ban_seconds("1h30m").unwrap(), Some(5_400));
        assert_eq!(ban_seconds("none").unwrap(), None);
        assert!(ban_seconds("24").is_err());
        assert!(ban_seconds("1d").is_err());
        assert!(ban_seconds("0h").is_err());
        assert!(ban_seconds("900000h").is_err());
    }

    #[test]
    fn compact_rows_say_providers_and_confirmation() {
        let u = json!({"id": "x", "email": "a@b.c", "app_metadata": {"provider": "email", "providers": ["email", "google"]},
                       "email_confirmed_at": "2024-01-01T00:00:00Z"});
        let c = compact(&u);
        assert_eq!(c["providers"], json!(["email", "google"]));
        assert_eq!(c["confirmed"], true);
        assert!(c.get("encrypted_password").is_none());
    }
}
