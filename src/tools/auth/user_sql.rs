//! Users through SQL on the `auth` schema, for instances whose Auth API is
//! not configured or not reachable. Rows are written as GoTrue writes them:
//! the single-tenant instance id, audience and role `authenticated`, a
//! bcrypt hash from pgcrypto (cost 10), empty strings in the token columns,
//! the provider in `raw_app_meta_data` and an identity row for the email
//! (or phone) provider. Reads return the field names of the API's user.

use serde_json::{Map, Value, json};

use super::common::{INSTANCE_ID, json_rows};
use crate::db::backend::Backend;
use crate::pg::quote_ident;
use crate::result::{ErrorCode, ToolError};
use crate::secret::Secret;

/// The user as the API shows it (`full` adds identities and factors).
fn user_json(full: bool) -> String {
    let extra = if full {
        ", 'identities', coalesce((SELECT json_agg(json_build_object(\
             'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id, 'provider', i.provider, \
             'email', i.email, 'identity_data', i.identity_data, 'created_at', i.created_at, \
             'updated_at', i.updated_at, 'last_sign_in_at', i.last_sign_in_at) ORDER BY i.created_at) \
           FROM auth.identities i WHERE i.user_id = u.id), '[]'::json), \
         'factors', coalesce((SELECT json_agg(json_build_object(\
             'id', f.id, 'factor_type', f.factor_type, 'status', f.status, \
             'friendly_name', f.friendly_name, 'created_at', f.created_at, 'updated_at', f.updated_at) \
             ORDER BY f.created_at) FROM auth.mfa_factors f WHERE f.user_id = u.id), '[]'::json)"
    } else {
        ""
    };
    format!(
        "json_build_object('id', u.id, 'aud', u.aud, 'role', u.role, 'email', u.email, 'phone', u.phone, \
           'created_at', u.created_at, 'updated_at', u.updated_at, 'last_sign_in_at', u.last_sign_in_at, \
           'email_confirmed_at', u.email_confirmed_at, 'phone_confirmed_at', u.phone_confirmed_at, \
           'confirmed_at', u.confirmed_at, 'banned_until', u.banned_until, 'deleted_at', u.deleted_at, \
           'is_anonymous', u.is_anonymous, 'is_sso_user', u.is_sso_user, \
           'app_metadata', coalesce(u.raw_app_meta_data, '{{}}'::jsonb), \
           'user_metadata', coalesce(u.raw_user_meta_data, '{{}}'::jsonb){extra})"
    )
}

/// Filters of a user listing.
#[derive(Debug, Default)]
pub struct Filters {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub provider: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
}

/// One page of users, newest first, and the number of matching users.
pub async fn list(
    db: &Backend,
    f: &Filters,
    page: u32,
    per_page: u32,
) -> Result<(Vec<Value>, i64), ToolError> {
    let sql = format!(
        "SELECT ({user}::jsonb || jsonb_build_object('_total', count(*) OVER ()))::text AS j \
         FROM auth.users u \
         WHERE ($1::text IS NULL OR strpos(lower(coalesce(u.email, '')), lower($1::text)) > 0) \
           AND ($2::text IS NULL OR strpos(coalesce(u.phone, ''), $2::text) > 0) \
           AND ($3::text IS NULL OR u.raw_app_meta_data->>'provider' = $3::text \
                OR coalesce(u.raw_app_meta_data->'providers', '[]'::jsonb) @> jsonb_build_array($3::text)) \
           AND ($4::text IS NULL OR u.created_at >= $4::text::timestamptz) \
           AND ($5::text IS NULL OR u.created_at < $5::text::timestamptz) \
         ORDER BY u.created_at DESC NULLS LAST, u.id \
         LIMIT $6::int8 OFFSET $7::int8",
        user = user_json(false)
    );
    let limit = i64::from(per_page);
    let offset = i64::from(page - 1) * limit;
    let mut rows = json_rows(
        db,
        &sql,
        &[
            &f.email,
            &f.phone,
            &f.provider,
            &f.created_after,
            &f.created_before,
            &limit,
            &offset,
        ],
        false,
    )
    .await?;
    let mut total = 0;
    for r in &mut rows {
        if let Some(m) = r.as_object_mut() {
            total = m.remove("_total").and_then(|v| v.as_i64()).unwrap_or(0);
        }
    }
    if rows.is_empty() && page > 1 {
        let count = json_rows(
            db,
            "SELECT json_build_object('n', count(*))::text AS j FROM auth.users u \
             WHERE ($1::text IS NULL OR strpos(lower(coalesce(u.email, '')), lower($1::text)) > 0) \
               AND ($2::text IS NULL OR strpos(coalesce(u.phone, ''), $2::text) > 0) \
               AND ($3::text IS NULL OR u.raw_app_meta_data->>'provider' = $3::text \
                    OR coalesce(u.raw_app_meta_data->'providers', '[]'::jsonb) @> jsonb_build_array($3::text)) \
               AND ($4::text IS NULL OR u.created_at >= $4::text::timestamptz) \
               AND ($5::text IS NULL OR u.created_at < $5::text::timestamptz)",
            &[
                &f.email,
                &f.phone,
                &f.provider,
                &f.created_after,
                &f.created_before,
            ],
            false,
        )
        .await?;
        total = count
            .first()
            .and_then(|v| v.get("n"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
    }
    Ok((rows, total))
}

/// How a user is looked up.
pub enum Key {
    Id(uuid::Uuid),
    Email(String),
}

/// The full user, if it exists.
pub async fn get(db: &Backend, key: &Key) -> Result<Option<Value>, ToolError> {
    let (cond, value) = match key {
        Key::Id(id) => ("u.id = $1::text::uuid", id.to_string()),
        Key::Email(e) => ("lower(u.email) = lower($1::text)", e.clone()),
    };
    let sql = format!(
        "SELECT {user}::text AS j FROM auth.users u WHERE {cond} \
         ORDER BY u.is_sso_user, u.created_at LIMIT 1",
        user = user_json(true)
    );
    Ok(json_rows(db, &sql, &[&value], false)
        .await?
        .into_iter()
        .next())
}

/// The schema pgcrypto is installed in (Supabase: `extensions`).
async fn pgcrypto_schema(db: &Backend) -> Result<String, ToolError> {
    let rows = json_rows(
        db,
        "SELECT json_build_object('schema', n.nspname)::text AS j FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto'",
        &[],
        false,
    )
    .await?;
    rows.first()
        .and_then(|r| r.get("schema"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ToolError::new(ErrorCode::NotConfigured, "pgcrypto is not installed in this database")
                .reason("passwords are hashed with pgcrypto's bcrypt, as Auth stores them")
                .suggestion("Run CREATE EXTENSION pgcrypto WITH SCHEMA extensions; (every Supabase database has it), or configure the Auth API with --supabase-url and --service-role-key.")
        })
}

/// `schema.crypt($n, schema.gen_salt('bf', 10))`.
fn hash_expr(schema: &str, placeholder: &str) -> String {
    let s = quote_ident(schema);
    format!("{s}.crypt({placeholder}::text, {s}.gen_salt('bf', 10))")
}

/// A new user to write.
pub struct NewUser {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: Secret,
    pub email_confirm: bool,
    pub phone_confirm: bool,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
}

/// Creates a user and its identity in one statement; returns its id.
pub async fn create(db: &Backend, u: &NewUser) -> Result<uuid::Uuid, ToolError> {
    let schema = pgcrypto_schema(db).await?;
    let provider = if u.email.is_some() { "email" } else { "phone" };
    let mut app = u.app_metadata.clone();
    app.insert("provider".into(), json!(provider));
    app.insert("providers".into(), json!([provider]));
    let app = Value::Object(app).to_string();
    let meta = Value::Object(u.user_metadata.clone()).to_string();
    let sql = format!(
        "WITH u AS ( \
           INSERT INTO auth.users (instance_id, id, aud, role, email, phone, encrypted_password, \
             email_confirmed_at, phone_confirmed_at, confirmation_token, recovery_token, \
             email_change_token_new, email_change, email_change_token_current, phone_change, \
             phone_change_token, reauthentication_token, email_change_confirm_status, \
             raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at, \
             is_sso_user, is_anonymous) \
           VALUES ('{INSTANCE_ID}', gen_random_uuid(), 'authenticated', 'authenticated', $1::text, $2::text, \
             {hash}, CASE WHEN $4::bool THEN now() END, CASE WHEN $5::bool THEN now() END, \
             '', '', '', '', '', '', '', '', 0, $6::text::jsonb, $7::text::jsonb, false, now(), now(), \
             false, false) \
           RETURNING id, email, phone, email_confirmed_at, phone_confirmed_at), \
         i AS ( \
           INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at) \
           SELECT u.id::text, u.id, \
             jsonb_strip_nulls(jsonb_build_object('sub', u.id::text, 'email', u.email, 'phone', u.phone)) \
               || jsonb_build_object('email_verified', u.email_confirmed_at IS NOT NULL, \
                                     'phone_verified', u.phone_confirmed_at IS NOT NULL), \
             $8::text, now(), now() FROM u RETURNING user_id) \
         SELECT json_build_object('id', i.user_id)::text AS j FROM i",
        hash = hash_expr(&schema, "$3"),
    );
    let password = u.password.expose().to_owned();
    let provider = provider.to_owned();
    let rows = json_rows(
        db,
        &sql,
        &[
            &u.email,
            &u.phone,
            &password,
            &u.email_confirm,
            &u.phone_confirm,
            &app,
            &meta,
            &provider,
        ],
        true,
    )
    .await?;
    drop(password);
    rows.first()
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ToolError::internal("the new user's id did not come back"))
}

/// Changes to a user.
#[derive(Default)]
pub struct Changes {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: Option<Secret>,
    pub email_confirm: Option<bool>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
    /// Seconds of a ban; `Some(None)` lifts it.
    pub ban_seconds: Option<Option<i64>>,
    pub role: Option<String>,
}

/// Applies `c` to the user; false when it does not exist.
pub async fn update(db: &Backend, id: uuid::Uuid, c: &Changes) -> Result<bool, ToolError> {
    let hash = match &c.password {
        Some(_) => hash_expr(&pgcrypto_schema(db).await?, "$4"),
        // `$4` is still named so that its type is known.
        None => {
            "CASE WHEN $4::text IS NULL THEN u.encrypted_password ELSE u.encrypted_password END"
                .to_owned()
        }
    };
    let (ban_set, ban_secs) = match c.ban_seconds {
        None => (false, None),
        Some(s) => (true, s),
    };
    let sql = format!(
        "WITH u AS ( \
           UPDATE auth.users u SET \
             email = coalesce($2::text, u.email), \
             phone = coalesce($3::text, u.phone), \
             encrypted_password = {hash}, \
             email_confirmed_at = CASE WHEN $5::bool IS TRUE THEN coalesce(u.email_confirmed_at, now()) \
                                       WHEN $5::bool IS FALSE THEN NULL ELSE u.email_confirmed_at END, \
             raw_user_meta_data = CASE WHEN $6::text IS NULL THEN u.raw_user_meta_data \
                                       ELSE jsonb_strip_nulls(coalesce(u.raw_user_meta_data, '{{}}'::jsonb) || $6::text::jsonb) END, \
             raw_app_meta_data = CASE WHEN $7::text IS NULL THEN u.raw_app_meta_data \
                                      ELSE jsonb_strip_nulls(coalesce(u.raw_app_meta_data, '{{}}'::jsonb) || $7::text::jsonb) END, \
             banned_until = CASE WHEN NOT $8::bool THEN u.banned_until \
                                 WHEN $9::int8 IS NULL THEN NULL \
                                 ELSE now() + make_interval(secs => $9::int8) END, \
             role = coalesce($10::text, u.role), \
             updated_at = now() \
           WHERE u.id = $1::text::uuid RETURNING u.id, u.email, u.phone), \
         i AS ( \
           UPDATE auth.identities i SET identity_data = i.identity_data || \
             CASE WHEN i.provider = 'email' AND $2::text IS NOT NULL THEN jsonb_build_object('email', $2::text) \
                  WHEN i.provider = 'phone' AND $3::text IS NOT NULL THEN jsonb_build_object('phone', $3::text) \
                  ELSE '{{}}'::jsonb END, updated_at = now() \
           FROM u WHERE i.user_id = u.id AND i.provider IN ('email', 'phone') RETURNING i.id) \
         SELECT json_build_object('id', u.id, 'identities', (SELECT count(*) FROM i))::text AS j FROM u"
    );
    let id = id.to_string();
    let password = c.password.as_ref().map(|p| p.expose().to_owned());
    let user_meta = c
        .user_metadata
        .clone()
        .map(|m| Value::Object(m).to_string());
    let app_meta = c.app_metadata.clone().map(|m| Value::Object(m).to_string());
    let rows = json_rows(
        db,
        &sql,
        &[
            &id,
            &c.email,
            &c.phone,
            &password,
            &c.email_confirm,
            &user_meta,
            &app_meta,
            &ban_set,
            &ban_secs,
            &c.role,
        ],
        true,
    )
    .await?;
    drop(password);
    Ok(!rows.is_empty())
}

/// Deletes a user (identities, sessions and factors go with it), or marks
/// it deleted: email and phone cleared, password removed, identities and
/// sessions deleted. False when the user does not exist.
pub async fn delete(db: &Backend, id: uuid::Uuid, soft: bool) -> Result<bool, ToolError> {
    let sql = if soft {
        "WITH s AS (DELETE FROM auth.sessions WHERE user_id = $1::text::uuid), \
              r AS (DELETE FROM auth.refresh_tokens WHERE user_id = $1::text), \
              i AS (DELETE FROM auth.identities WHERE user_id = $1::text::uuid), \
              u AS (UPDATE auth.users SET deleted_at = now(), updated_at = now(), email = NULL, \
                      phone = NULL, encrypted_password = '', raw_user_meta_data = '{}'::jsonb \
                    WHERE id = $1::text::uuid RETURNING id) \
         SELECT json_build_object('id', id)::text AS j FROM u"
    } else {
        "WITH r AS (DELETE FROM auth.refresh_tokens WHERE user_id = $1::text), \
              u AS (DELETE FROM auth.users WHERE id = $1::text::uuid RETURNING id) \
         SELECT json_build_object('id', id)::text AS j FROM u"
    };
    let id = id.to_string();
    Ok(!json_rows(db, sql, &[&id], true).await?.is_empty())
}
