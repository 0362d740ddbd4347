//! `list_user_factors` and `delete_user_factor`: a user's MFA factors
//! through the Auth admin API, or `auth.mfa_factors` with SQL. Factor
//! secrets and WebAuthn credentials are never read or shown.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{
    AuthPath, FALLBACK_WARNING, Via, choose, fallback, json_rows, parse_uuid, user_id,
};
use crate::db::backend::Backend;
use crate::result::{ErrorCode, ToolError, ToolOutput};
use crate::server::call::Call;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    pub user_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteArgs {
    pub user_id: String,
    /// From list_user_factors.
    pub factor_id: String,
}

const FACTOR_JSON: &str = "json_build_object('id', f.id, 'factor_type', f.factor_type, 'status', f.status, \
    'friendly_name', f.friendly_name, 'phone', f.phone, 'created_at', f.created_at, \
    'updated_at', f.updated_at, 'last_challenged_at', f.last_challenged_at)::text AS j";

fn user_missing(id: &uuid::Uuid) -> ToolError {
    ToolError::new(ErrorCode::NotFound, format!("no user with id {id}"))
        .suggestion("list_auth_users shows the users and their ids.")
}

async fn user_exists(db: &Backend, id: &str) -> Result<bool, ToolError> {
    let rows = json_rows(
        db,
        "SELECT json_build_object('id', id)::text AS j FROM auth.users WHERE id = $1::text::uuid",
        &[&id.to_owned()],
        false,
    )
    .await?;
    Ok(!rows.is_empty())
}

fn shown(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("secret");
        m.remove("webauthn_credential");
    }
    v
}

pub async fn list_user_factors(call: Call, a: ListArgs) -> Result<ToolOutput, ToolError> {
    let id = user_id(&a.user_id)?;
    let mut warnings = Vec::new();
    let db = match choose(&call).await? {
        AuthPath::Api(api) => match api.idempotent(|c| c.admin_list_user_factors(&id)).await {
            Ok(factors) => {
                let factors: Vec<Value> = factors
                    .iter()
                    .map(|f| shown(serde_json::to_value(f).unwrap_or(Value::Null)))
                    .collect();
                return Ok(ToolOutput::untrusted(json!({
                    "via": Via::Api.as_str(), "user_id": id.to_string(),
                    "count": factors.len(), "factors": factors,
                })));
            }
            Err(e) if e.status() == Some(404) => return Err(user_missing(&id)),
            Err(e) => {
                let db = fallback(&call, e).await?;
                warnings.push(FALLBACK_WARNING);
                db
            }
        },
        AuthPath::Sql(db) => db,
    };
    let uid = id.to_string();
    let sql = format!(
        "SELECT {FACTOR_JSON} FROM auth.mfa_factors f WHERE f.user_id = $1::text::uuid ORDER BY f.created_at"
    );
    let factors: Vec<Value> = json_rows(&db, &sql, &[&uid], false)
        .await?
        .into_iter()
        .map(shown)
        .collect();
    if factors.is_empty() && !user_exists(&db, &uid).await? {
        return Err(user_missing(&id));
    }
    let mut out = ToolOutput::untrusted(json!({
        "via": Via::Sql.as_str(), "user_id": uid, "count": factors.len(), "factors": factors,
    }));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}

pub async fn delete_user_factor(call: Call, a: DeleteArgs) -> Result<ToolOutput, ToolError> {
    let id = user_id(&a.user_id)?;
    let factor = parse_uuid(
        "factor_id",
        &a.factor_id,
        "list_user_factors shows the factor ids.",
    )?;
    let missing = || {
        ToolError::new(
            ErrorCode::NotFound,
            format!("user {id} has no factor {factor}"),
        )
        .suggestion("list_user_factors shows the user's factors.")
    };
    let mut warnings = Vec::new();
    let db = match choose(&call).await? {
        AuthPath::Api(api) => match api.call(|c| c.admin_delete_user_factor(&id, &factor)).await {
            Ok(_) => {
                return Ok(ToolOutput::trusted(json!({
                    "via": Via::Api.as_str(), "user_id": id.to_string(), "deleted_factor": factor.to_string(),
                    "note": "The user signs in without this factor from now on; sessions already at aal2 keep it until they refresh.",
                })));
            }
            Err(e) if e.status() == Some(404) => return Err(missing()),
            Err(e) => {
                let db = fallback(&call, e).await?;
                warnings.push(FALLBACK_WARNING);
                db
            }
        },
        AuthPath::Sql(db) => db,
    };
    let uid = id.to_string();
    let fid = factor.to_string();
    let rows = json_rows(
        &db,
        "WITH d AS (DELETE FROM auth.mfa_factors WHERE id = $2::text::uuid AND user_id = $1::text::uuid RETURNING id) \
         SELECT json_build_object('id', id)::text AS j FROM d",
        &[&uid, &fid],
        true,
    )
    .await?;
    if rows.is_empty() {
        return Err(missing());
    }
    let mut out = ToolOutput::trusted(json!({
        "via": Via::Sql.as_str(), "user_id": uid, "deleted_factor": fid,
        "note": "The user signs in without this factor from now on; sessions already at aal2 keep it until they refresh.",
    }));
    for w in warnings {
        out = out.warn(w);
    }
    Ok(out)
}
