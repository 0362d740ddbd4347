//! The lints: one catalog query each, with its level, category and the
//! reason it matters. Every query returns the same columns (`schema`,
//! `name`, `type`, `detail`, `fix`, `entity`, `fkey_name`, `fkey_columns`),
//! one row per finding, and skips system schemas, Supabase-managed schemas
//! (auth, storage, realtime, extensions, graphql...: users cannot fix what
//! is there) and objects that belong to an extension.
//!
//! A schema is *exposed* when it is not managed and is `public` or `anon`
//! or `authenticated` has USAGE on it: the Data API can reach it.

use crate::tools::introspect::{SYSTEM_FILTER, managed_list};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
        }
    }
}

/// Which advisor a lint belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Security,
    Performance,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Security => "SECURITY",
            Category::Performance => "PERFORMANCE",
        }
    }
}

/// One lint.
#[derive(Debug, Clone, Copy)]
pub struct Lint {
    /// Stable id, the same as Supabase's advisor uses.
    pub name: &'static str,
    /// Number in Supabase's linter documentation.
    pub number: &'static str,
    pub title: &'static str,
    pub level: Level,
    pub category: Category,
    /// Why it matters and what fixing it involves.
    pub description: &'static str,
    sql: fn() -> String,
}

impl Lint {
    /// The query listing this lint's findings.
    pub fn sql(&self) -> String {
        (self.sql)()
    }

    /// Supabase's page about this lint.
    pub fn remediation(&self) -> String {
        format!(
            "https://supabase.com/docs/guides/database/database-linter?lint={}_{}",
            self.number, self.name
        )
    }
}

/// Every lint, security first.
pub fn all() -> Vec<Lint> {
    vec![
        Lint {
            name: "rls_disabled_in_public",
            number: "0013",
            title: "RLS disabled in an exposed schema",
            level: Level::Error,
            category: Category::Security,
            description: "The Data API serves this table and row level security is off: anyone holding the anon key \
                          can read and change its rows, as far as grants allow. Enable RLS, then add policies for \
                          what each role may see and do.",
            sql: rls_disabled_in_public,
        },
        Lint {
            name: "policy_exists_rls_disabled",
            number: "0007",
            title: "Policies exist but RLS is disabled",
            level: Level::Error,
            category: Category::Security,
            description: "The table has RLS policies, but row level security is off, so none of them is applied. \
                          Enable RLS to make them count.",
            sql: policy_exists_rls_disabled,
        },
        Lint {
            name: "security_definer_view",
            number: "0010",
            title: "Security definer view",
            level: Level::Error,
            category: Category::Security,
            description: "The view runs with its owner's rights, so the RLS policies and grants of the tables it \
                          reads are checked for the owner, not the caller: API users may see rows they should not. \
                          Make it security_invoker (PostgreSQL 15+).",
            sql: security_definer_view,
        },
        Lint {
            name: "auth_users_exposed",
            number: "0002",
            title: "auth.users exposed through a view",
            level: Level::Error,
            category: Category::Security,
            description: "A view the API roles may read selects from auth.users with its owner's rights: emails, \
                          phone numbers and metadata of every user can leak through the Data API. Revoke access \
                          or move the view to a schema the API does not expose.",
            sql: auth_users_exposed,
        },
        Lint {
            name: "anon_security_definer_function_executable",
            number: "0028",
            title: "Security definer function callable by anon",
            level: Level::Warn,
            category: Category::Security,
            description: "A SECURITY DEFINER function in an exposed schema runs with its owner's rights and `anon` \
                          may execute it: anyone with the anon key can call it through /rest/v1/rpc, bypassing RLS. \
                          Revoke EXECUTE, make it SECURITY INVOKER, or move it out of the exposed schema.",
            sql: anon_security_definer_function_executable,
        },
        Lint {
            name: "authenticated_security_definer_function_executable",
            number: "0029",
            title: "Security definer function callable by authenticated",
            level: Level::Warn,
            category: Category::Security,
            description: "A SECURITY DEFINER function in an exposed schema runs with its owner's rights and every \
                          signed-in user may execute it through /rest/v1/rpc, bypassing RLS. Keep it only if it \
                          checks the caller itself; otherwise revoke EXECUTE or make it SECURITY INVOKER.",
            sql: authenticated_security_definer_function_executable,
        },
        Lint {
            name: "function_search_path_mutable",
            number: "0011",
            title: "Function search_path is mutable",
            level: Level::Warn,
            category: Category::Security,
            description: "The function resolves unqualified names with the caller's search_path: a caller who \
                          can create objects in a schema on that path can make it run other code (worse for \
                          SECURITY DEFINER functions). Pin search_path on the function and qualify names.",
            sql: function_search_path_mutable,
        },
        Lint {
            name: "extension_in_public",
            number: "0014",
            title: "Extension in the public schema",
            level: Level::Warn,
            category: Category::Security,
            description: "The extension's functions and types live in `public`, which the Data API exposes and \
                          every role searches: they become callable through the API and can shadow or be shadowed \
                          by application objects. Install extensions in a separate schema such as `extensions`.",
            sql: extension_in_public,
        },
        Lint {
            name: "rls_enabled_no_policy",
            number: "0008",
            title: "RLS enabled without any policy",
            level: Level::Info,
            category: Category::Security,
            description: "Row level security is on and no policy exists, so the API roles can neither read nor \
                          write the table. Fine if only the service role uses it; otherwise add policies.",
            sql: rls_enabled_no_policy,
        },
        Lint {
            name: "auth_rls_initplan",
            number: "0003",
            title: "Auth function re-evaluated for each row",
            level: Level::Warn,
            category: Category::Performance,
            description: "The policy calls auth.uid(), auth.jwt(), auth.role() or auth.email() directly, so \
                          PostgreSQL calls it again for every row it checks. Wrapped in a sub-select, \
                          `(select auth.uid())`, it runs once per statement: much faster on large tables.",
            sql: auth_rls_initplan,
        },
        Lint {
            name: "multiple_permissive_policies",
            number: "0006",
            title: "Multiple permissive policies",
            level: Level::Warn,
            category: Category::Performance,
            description: "Several permissive policies apply to the same role and action; PostgreSQL evaluates \
                          every one of them for each row and ORs the results. One policy per role and action \
                          with the conditions combined is cheaper.",
            sql: multiple_permissive_policies,
        },
        Lint {
            name: "duplicate_index",
            number: "0009",
            title: "Duplicate index",
            level: Level::Warn,
            category: Category::Performance,
            description: "Two or more indexes on the same table have the same columns, expressions and predicate: \
                          each one slows every write and takes space, and only one is ever needed.",
            sql: duplicate_index,
        },
        Lint {
            name: "unindexed_foreign_keys",
            number: "0001",
            title: "Unindexed foreign key",
            level: Level::Info,
            category: Category::Performance,
            description: "No index starts with the foreign key's columns: joins on them scan the table, and \
                          every delete or key update in the referenced table scans it too.",
            sql: unindexed_foreign_keys,
        },
        Lint {
            name: "unused_index",
            number: "0005",
            title: "Unused index",
            level: Level::Info,
            category: Category::Performance,
            description: "The table is queried but this index has never been used since statistics were last \
                          reset: it slows every write and takes space. Drop it if no rare job or replica needs it.",
            sql: unused_index,
        },
        Lint {
            name: "no_primary_key",
            number: "0004",
            title: "Table without primary key",
            level: Level::Info,
            category: Category::Performance,
            description: "Without a primary key rows cannot be identified reliably: the API cannot update one row \
                          safely, logical replication and Realtime cannot publish UPDATE and DELETE, and tools \
                          that copy or diff data work row by row.",
            sql: no_primary_key,
        },
    ]
}

// ---------------------------------------------------------------------------
// Shared predicates
// ---------------------------------------------------------------------------

/// Namespace `n` is a user schema: not system, not Supabase-managed.
fn user_schema() -> String {
    format!("({SYSTEM_FILTER} AND n.nspname NOT IN {})", managed_list())
}

/// Namespace `n` is a user schema the Data API can reach.
fn exposed_schema() -> String {
    format!(
        "({} AND (n.nspname = 'public' OR EXISTS (SELECT 1 FROM pg_roles er \
           WHERE er.rolname IN ('anon', 'authenticated') AND has_schema_privilege(er.oid, n.oid, 'USAGE'))))",
        user_schema()
    )
}

/// Relation `alias` does not belong to an extension.
fn not_extension_rel(alias: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_class'::regclass \
         AND ed.objid = {alias}.oid AND ed.deptype = 'e')"
    )
}

/// Function `p` does not belong to an extension.
const NOT_EXTENSION_PROC: &str = "NOT EXISTS (SELECT 1 FROM pg_depend ed WHERE ed.classid = 'pg_proc'::regclass \
     AND ed.objid = p.oid AND ed.deptype = 'e')";

/// Relation `alias` may be read by `anon` or `authenticated`.
fn api_readable(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_roles ar WHERE ar.rolname IN ('anon', 'authenticated') \
         AND has_table_privilege(ar.oid, {alias}.oid, 'SELECT'))"
    )
}

/// View `alias` runs with the caller's rights.
fn security_invoker(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM unnest(coalesce({alias}.reloptions, '{{}}'::text[])) o \
         WHERE lower(o) IN ('security_invoker=true', 'security_invoker=on', 'security_invoker=1', \
                            'security_invoker=yes', 'security_invoker=t', 'security_invoker=y'))"
    )
}

/// Columns a lint does not fill.
const NO_ENTITY: &str =
    "NULL::text AS entity, NULL::text AS fkey_name, NULL::text[] AS fkey_columns";

// ---------------------------------------------------------------------------
// Security
// ---------------------------------------------------------------------------

fn rls_disabled_in_public() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Table `%s.%s` is in schema `%s`, which the Data API exposes, and row level security is disabled on it.', \
                  n.nspname, c.relname, n.nspname) AS detail, \
           format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', n.nspname, c.relname) AS fix, {NO_ENTITY} \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity AND {exposed} AND {not_ext}",
        exposed = exposed_schema(),
        not_ext = not_extension_rel("c"),
    )
}

fn policy_exists_rls_disabled() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Table `%s.%s` has policies (%s) but row level security is disabled, so they are not applied.', \
                  n.nspname, c.relname, \
                  (SELECT string_agg(quote_ident(pol.polname), ', ' ORDER BY pol.polname) FROM pg_policy pol WHERE pol.polrelid = c.oid)) AS detail, \
           format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', n.nspname, c.relname) AS fix, {NO_ENTITY} \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity AND {user} \
           AND EXISTS (SELECT 1 FROM pg_policy pol WHERE pol.polrelid = c.oid)",
        user = user_schema(),
    )
}

fn security_definer_view() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'view'::text AS type, \
           format('View `%s.%s` is readable by the API roles and runs with the rights of its owner `%s`, not of the caller.', \
                  n.nspname, c.relname, pg_get_userbyid(c.relowner)) AS detail, \
           format('ALTER VIEW %I.%I SET (security_invoker = true);', n.nspname, c.relname) AS fix, {NO_ENTITY} \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'v' AND {exposed} AND NOT {invoker} AND {readable} AND {not_ext}",
        exposed = exposed_schema(),
        invoker = security_invoker("c"),
        readable = api_readable("c"),
        not_ext = not_extension_rel("c"),
    )
}

fn auth_users_exposed() -> String {
    format!(
        "SELECT DISTINCT n.nspname::text AS schema, v.relname::text AS name, \
           CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END::text AS type, \
           format('%s `%s.%s` selects from auth.users with its owner''s rights and anon or authenticated may read it.', \
                  CASE v.relkind WHEN 'm' THEN 'Materialized view' ELSE 'View' END, n.nspname, v.relname) AS detail, \
           format(E'REVOKE SELECT ON %I.%I FROM anon, authenticated;\\n-- or move it to a schema the Data API does not expose', \
                  n.nspname, v.relname) AS fix, {NO_ENTITY} \
         FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid \
           JOIN pg_class v ON v.oid = rw.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace \
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
           AND d.refobjid = to_regclass('auth.users') AND v.oid <> d.refobjid AND v.relkind IN ('v', 'm') \
           AND {exposed} AND {readable} AND (v.relkind = 'm' OR NOT {invoker})",
        exposed = exposed_schema(),
        readable = api_readable("v"),
        invoker = security_invoker("v"),
    )
}

/// SECURITY DEFINER functions of exposed schemas that `role` may execute
/// (trigger functions cannot be called through the API and are left out).
fn security_definer_executable(role: &str, fix: &str) -> String {
    format!(
        "SELECT n.nspname::text AS schema, p.proname::text AS name, 'function'::text AS type, \
           format('Function `%s.%s(%s)` is SECURITY DEFINER (runs as `%s`) and `{role}` may execute it through the API.', \
                  n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_userbyid(p.proowner)) AS detail, \
           format(E'{fix}', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), \
                  n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS fix, \
           {NO_ENTITY} \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.rolname = '{role}' \
         WHERE p.prosecdef AND p.prokind IN ('f', 'p') AND {exposed} \
           AND p.prorettype NOT IN ('trigger'::regtype::oid, 'event_trigger'::regtype::oid) \
           AND has_function_privilege(r.oid, p.oid, 'EXECUTE') AND {NOT_EXTENSION_PROC}",
        exposed = exposed_schema(),
    )
}

fn anon_security_definer_function_executable() -> String {
    security_definer_executable(
        "anon",
        "REVOKE EXECUTE ON FUNCTION %I.%I(%s) FROM PUBLIC, anon;\\n\
         -- signed-in users keep it only if granted explicitly:\\n\
         GRANT EXECUTE ON FUNCTION %I.%I(%s) TO authenticated;",
    )
}

fn authenticated_security_definer_function_executable() -> String {
    security_definer_executable(
        "authenticated",
        "REVOKE EXECUTE ON FUNCTION %I.%I(%s) FROM PUBLIC, anon, authenticated;\\n\
         -- or, when it need not bypass RLS:\\n\
         ALTER FUNCTION %I.%I(%s) SECURITY INVOKER;",
    )
}

fn function_search_path_mutable() -> String {
    format!(
        "SELECT n.nspname::text AS schema, p.proname::text AS name, 'function'::text AS type, \
           format('%s `%s.%s(%s)` does not set search_path, so it resolves names with the caller''s.', \
                  CASE p.prokind WHEN 'p' THEN 'Procedure' ELSE 'Function' END, \
                  n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS detail, \
           format(E'ALTER %s %I.%I(%s) SET search_path = '''';\\n-- then qualify every name in its body (public.t, not t)', \
                  CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, \
                  n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS fix, {NO_ENTITY} \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang \
         WHERE p.prokind IN ('f', 'p') AND l.lanname NOT IN ('c', 'internal') AND {user} \
           AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{{}}'::text[])) cfg WHERE cfg LIKE 'search\\_path=%') \
           AND {NOT_EXTENSION_PROC}",
        user = user_schema(),
    )
}

fn extension_in_public() -> String {
    format!(
        "SELECT n.nspname::text AS schema, e.extname::text AS name, 'extension'::text AS type, \
           format('Extension `%s` is installed in schema `public`.', e.extname) AS detail, \
           CASE WHEN e.extrelocatable \
             THEN format(E'CREATE SCHEMA IF NOT EXISTS extensions;\\nALTER EXTENSION %I SET SCHEMA extensions;', e.extname) \
             ELSE format(E'-- %s cannot be moved: recreate it (objects that depend on it must be recreated too)\\n\
CREATE SCHEMA IF NOT EXISTS extensions;\\nDROP EXTENSION %I;\\nCREATE EXTENSION %I WITH SCHEMA extensions;', \
                         e.extname, e.extname, e.extname) END AS fix, {NO_ENTITY} \
         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
         WHERE n.nspname = 'public'"
    )
}

fn rls_enabled_no_policy() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Table `%s.%s` has row level security enabled and no policy: the API roles get no rows.', \
                  n.nspname, c.relname) AS detail, \
           format(E'-- adapt the role and condition before running:\\nCREATE POLICY \"authenticated can read\" ON %I.%I FOR SELECT TO authenticated USING (true);', \
                  n.nspname, c.relname) AS fix, {NO_ENTITY} \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND {exposed} AND {not_ext} \
           AND NOT EXISTS (SELECT 1 FROM pg_policy pol WHERE pol.polrelid = c.oid)",
        exposed = exposed_schema(),
        not_ext = not_extension_rel("c"),
    )
}

// ---------------------------------------------------------------------------
// Performance
// ---------------------------------------------------------------------------

/// A direct call of an auth helper, not inside a sub-select.
/// Written without backslashes, so it reads the same whatever
/// `standard_conforming_strings` says.
const BARE_AUTH_CALL: &str = "(?<!select )auth[.](uid|jwt|role|email)[(][)]";

fn auth_rls_initplan() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Policy `%s` on `%s.%s` calls %s directly: it runs once for every row checked.', \
                  pol.polname, n.nspname, c.relname, \
                  (SELECT string_agg(DISTINCT 'auth.' || lower(m[1]) || '()', ', ') \
                     FROM regexp_matches(coalesce(q.qual, '') || ' ' || coalesce(q.chk, ''), '{BARE_AUTH_CALL}', 'gi') m)) AS detail, \
           format('ALTER POLICY %I ON %I.%I%s%s;', pol.polname, n.nspname, c.relname, \
                  CASE WHEN q.qual IS NULL THEN '' ELSE ' USING (' || regexp_replace(q.qual, '{BARE_AUTH_CALL}', E'(select auth.\\\\1())', 'gi') || ')' END, \
                  CASE WHEN q.chk IS NULL THEN '' ELSE ' WITH CHECK (' || regexp_replace(q.chk, '{BARE_AUTH_CALL}', E'(select auth.\\\\1())', 'gi') || ')' END) AS fix, \
           pol.polname::text AS entity, NULL::text AS fkey_name, NULL::text[] AS fkey_columns \
         FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
           CROSS JOIN LATERAL (SELECT pg_get_expr(pol.polqual, pol.polrelid) AS qual, \
                                      pg_get_expr(pol.polwithcheck, pol.polrelid) AS chk) q \
         WHERE {user} AND (coalesce(q.qual, '') ~* '{BARE_AUTH_CALL}' OR coalesce(q.chk, '') ~* '{BARE_AUTH_CALL}')",
        user = user_schema(),
    )
}

fn multiple_permissive_policies() -> String {
    format!(
        "WITH pol AS ( \
           SELECT p.polrelid, p.polname, p.polroles, a.action, \
             pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS chk \
           FROM pg_policy p CROSS JOIN LATERAL unnest(CASE p.polcmd \
             WHEN 'r' THEN ARRAY['SELECT'] WHEN 'a' THEN ARRAY['INSERT'] WHEN 'w' THEN ARRAY['UPDATE'] \
             WHEN 'd' THEN ARRAY['DELETE'] ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END) a(action) \
           WHERE p.polpermissive \
         ), candidates AS ( \
           SELECT r.oid, r.rolname FROM pg_roles r \
           WHERE NOT r.rolsuper AND NOT r.rolbypassrls \
             AND (r.rolname IN ('anon', 'authenticated', 'authenticator', 'dashboard_user') \
                  OR r.oid IN (SELECT unnest(polroles) FROM pg_policy)) \
         ) \
         SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Table `%s.%s` has %s permissive policies for role `%s` and %s: %s.', n.nspname, c.relname, \
                  count(*), ro.rolname, pol.action, string_agg(quote_ident(pol.polname), ', ' ORDER BY pol.polname)) AS detail, \
           format(E'-- one policy for this role and action, with the conditions combined:\\nCREATE POLICY %I ON %I.%I AS PERMISSIVE FOR %s TO %I%s%s;\\n-- then drop or narrow the originals (they may cover other roles or actions too): %s', \
                  lower(pol.action) || ' for ' || ro.rolname, n.nspname, c.relname, pol.action, ro.rolname, \
                  CASE WHEN pol.action IN ('SELECT', 'UPDATE', 'DELETE') \
                    THEN ' USING (' || string_agg('(' || coalesce(pol.qual, 'true') || ')', ' OR ' ORDER BY pol.polname) || ')' ELSE '' END, \
                  CASE WHEN pol.action IN ('INSERT', 'UPDATE') \
                    THEN ' WITH CHECK (' || string_agg('(' || coalesce(pol.chk, pol.qual, 'true') || ')', ' OR ' ORDER BY pol.polname) || ')' ELSE '' END, \
                  string_agg(quote_ident(pol.polname), ', ' ORDER BY pol.polname)) AS fix, \
           ro.rolname::text AS entity, NULL::text AS fkey_name, NULL::text[] AS fkey_columns \
         FROM pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
           CROSS JOIN candidates ro \
         WHERE {user} AND (0::oid = ANY(pol.polroles) OR EXISTS (SELECT 1 FROM unnest(pol.polroles) pr(oid) \
                 WHERE pr.oid <> 0 AND pg_has_role(ro.oid, pr.oid, 'USAGE'))) \
         GROUP BY n.nspname, c.relname, ro.rolname, pol.action \
         HAVING count(*) > 1",
        user = user_schema(),
    )
}

fn duplicate_index() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Table `%s.%s` has identical indexes: %s.', n.nspname, c.relname, \
                  string_agg(quote_ident(ic.relname), ', ' ORDER BY (k.oid IS NOT NULL) DESC, i.indisprimary DESC, i.indisunique DESC, ic.relname)) AS detail, \
           coalesce(string_agg(CASE WHEN k.oid IS NULL AND ic.relname <> keep.name \
                                    THEN format('DROP INDEX %I.%I;', n.nspname, ic.relname) END, E'\\n' ORDER BY ic.relname), \
                    '-- every duplicate backs a constraint: drop the redundant constraint (ALTER TABLE ... DROP CONSTRAINT ...)') AS fix, \
           string_agg(ic.relname::text, ', ' ORDER BY (k.oid IS NOT NULL) DESC, i.indisprimary DESC, i.indisunique DESC, ic.relname) AS entity, \
           NULL::text AS fkey_name, NULL::text[] AS fkey_columns \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
           LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid \
           CROSS JOIN LATERAL (SELECT (array_agg(ic2.relname::text ORDER BY (k2.oid IS NOT NULL) DESC, i2.indisprimary DESC, i2.indisunique DESC, ic2.relname))[1] AS name \
                               FROM pg_index i2 JOIN pg_class ic2 ON ic2.oid = i2.indexrelid \
                                 LEFT JOIN pg_constraint k2 ON k2.conindid = i2.indexrelid AND k2.conrelid = i2.indrelid \
                               WHERE i2.indrelid = i.indrelid AND i2.indkey::text = i.indkey::text \
                                 AND i2.indclass::text = i.indclass::text AND i2.indcollation::text = i.indcollation::text \
                                 AND i2.indoption::text = i.indoption::text AND ic2.relam = ic.relam \
                                 AND coalesce(pg_get_expr(i2.indexprs, i2.indrelid), '') = coalesce(pg_get_expr(i.indexprs, i.indrelid), '') \
                                 AND coalesce(pg_get_expr(i2.indpred, i2.indrelid), '') = coalesce(pg_get_expr(i.indpred, i.indrelid), '')) keep \
         WHERE {user} AND i.indisvalid \
         GROUP BY n.nspname, c.relname, i.indrelid, i.indkey::text, i.indclass::text, i.indcollation::text, \
           i.indoption::text, ic.relam, coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), \
           coalesce(pg_get_expr(i.indpred, i.indrelid), ''), keep.name \
         HAVING count(*) > 1",
        user = user_schema(),
    )
}

fn unindexed_foreign_keys() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Foreign key `%s` on `%s.%s` (%s) has no index starting with its columns.', k.conname, n.nspname, c.relname, \
                  array_to_string(cols.names, ', ')) AS detail, \
           format('CREATE INDEX ON %I.%I (%s);', n.nspname, c.relname, \
                  (SELECT string_agg(quote_ident(x), ', ') FROM unnest(cols.names) x)) AS fix, \
           NULL::text AS entity, k.conname::text AS fkey_name, cols.names AS fkey_columns \
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
           CROSS JOIN LATERAL (SELECT ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS names) cols \
         WHERE k.contype = 'f' AND k.conparentid = 0 AND {user} \
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid AND i.indpred IS NULL \
             AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey)",
        user = user_schema(),
    )
}

fn unused_index() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Index `%s` on `%s.%s` has never been scanned, while the table was read %s times.', \
                  ic.relname, n.nspname, c.relname, t.seq_scan + coalesce(t.idx_scan, 0)) AS detail, \
           format('DROP INDEX %I.%I;', n.nspname, ic.relname) AS fix, \
           ic.relname::text AS entity, NULL::text AS fkey_name, NULL::text[] AS fkey_columns \
         FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
           JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_stat_user_tables t ON t.relid = c.oid \
         WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid \
           AND t.seq_scan + coalesce(t.idx_scan, 0) > 0 AND {user} \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = i.indrelid \
             AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey)",
        user = user_schema(),
    )
}

fn no_primary_key() -> String {
    format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, 'table'::text AS type, \
           format('Table `%s.%s` has no primary key.', n.nspname, c.relname) AS detail, \
           CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped) \
             THEN format('ALTER TABLE %I.%I ADD PRIMARY KEY (id);', n.nspname, c.relname) \
             ELSE format('ALTER TABLE %I.%I ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;', n.nspname, c.relname) \
           END AS fix, {NO_ENTITY} \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {user} AND {not_ext} \
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)",
        user = user_schema(),
        not_ext = not_extension_rel("c"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lints_are_unique_and_complete() {
        let lints = all();
        let mut names: Vec<_> = lints.iter().map(|l| l.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), lints.len());
        for l in &lints {
            let sql = l.sql();
            for column in [
                " AS schema",
                " AS name",
                " AS type",
                " AS detail",
                " AS fix",
                " AS entity",
                " AS fkey_name",
                " AS fkey_columns",
            ] {
                assert!(sql.contains(column), "{}: no {column}", l.name);
            }
            assert!(
                l.remediation()
                    .ends_with(&format!("{}_{}", l.number, l.name)),
                "{}",
                l.name
            );
            assert!(!l.description.is_empty());
        }
        assert!(lints.iter().any(|l| l.category == Category::Performance));
    }
}
