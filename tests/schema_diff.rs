//! The schema differ's round-trip property on hand-made change sets.
//!
//! For each change set `(name, base, change)` three fresh databases are
//! cloned from the Supabase-like fixture: A and C get `base`, B gets `base`
//! and then `change` (a line `-- commit` in it separates transactions). Both directions are checked:
//! - forward: the plan `diff(A, B)` is applied to A, step by step in
//!   autocommit; afterwards `diff(A, B)` is empty and the `pg_dump
//!   --schema-only` texts of A and B are equal (owners included; comment
//!   lines, `\restrict` lines and blank lines ignored, and the grant lines
//!   of one object compared in sorted order, since the order of ACL items
//!   means nothing);
//! - backward: the plan `diff(B, C)` is applied to B (drops, removed enum
//!   values, reverted alterations); afterwards B and C compare equal the
//!   same way.
//!
//! Every plan also keeps two marking rules: a step that drops a table or a
//! column is destructive, and a change set marked additive has a forward
//! plan without destructive steps. The forward script is pinned by an
//! `insta` snapshot (`tests/snapshots/schema_diff__<name>_forward.snap`).
//!
//! `SCHEMA_DIFF_SHOW=1` prints the plans of both directions (with
//! `--nocapture`). A failure prints the plan script, the step that failed or what was still
//! different (the remaining plan and the `pg_dump` lines that differ).

use std::fmt::Write as _;

use supabase_mcp::pg::describe_error;
use supabase_mcp::pg::testdb::TestDb;
use supabase_mcp::schema::{self, Action, Plan, Scope};
use tokio_postgres::Client;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// What the forward plan of a change set may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forward {
    /// The change only adds or widens: no destructive step expected.
    Additive,
    /// The change drops or narrows something: anything goes.
    Any,
}

async fn client(db: &TestDb) -> Client {
    db.client().await.unwrap()
}

/// Runs `sql`; a line `-- commit` splits it into batches run one after the
/// other (a batch of several statements is one transaction).
async fn exec(db: &TestDb, what: &str, sql: &str) {
    let c = client(db).await;
    for batch in sql.split("\n-- commit\n") {
        if batch.trim().is_empty() {
            continue;
        }
        c.batch_execute(batch)
            .await
            .unwrap_or_else(|e| panic!("{what} failed: {}\n{batch}", describe_error(&e)));
    }
}

async fn load(db: &TestDb, scope: &Scope) -> Result<schema::Catalog, String> {
    schema::load(&client(db).await, scope)
        .await
        .map_err(|e| format!("loading the catalog of {} failed: {e}", db.name))
}

/// `pg_dump --schema-only` of the whole database (owners included), without
/// the lines that differ between two equal databases (comments naming the
/// database, the random `\restrict` keys) and without blank lines.
///
/// The lines of one object's privileges are sorted: they follow the order of
/// the object's ACL items, which has no meaning (a role revoked and granted
/// again moves to the end of the list).
async fn dump(db: &TestDb) -> Vec<String> {
    let pg_dump = std::env::var("PG_DUMP").unwrap_or_else(|_| "pg_dump".to_string());
    let out = tokio::process::Command::new(&pg_dump)
        .args(["--schema-only", "--no-password", "-d", &db.url])
        .output()
        .await
        .unwrap_or_else(|e| panic!("could not run {pg_dump}: {e}"));
    assert!(
        out.status.success(),
        "pg_dump of {} failed: {}",
        db.name,
        String::from_utf8_lossy(&out.stderr)
    );
    normalize_dump(&String::from_utf8_lossy(&out.stdout))
}

fn normalize_dump(text: &str) -> Vec<String> {
    fn flush(block: &mut Vec<String>, out: &mut Vec<String>) {
        if !block.iter().any(|l| l.contains("SESSION AUTHORIZATION")) {
            block.sort();
        }
        out.append(block);
    }
    let mut out = Vec::new();
    let mut block = Vec::new();
    let mut in_acl = false;
    for line in text.lines() {
        if line.starts_with("--") {
            flush(&mut block, &mut out);
            if line.starts_with("-- Name: ") {
                in_acl = line.contains("; Type: ACL;") || line.contains("; Type: DEFAULT ACL;");
            }
            continue;
        }
        if line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
            || line.trim().is_empty()
        {
            continue;
        }
        if in_acl {
            block.push(line.to_string());
        } else {
            out.push(line.to_string());
        }
    }
    flush(&mut block, &mut out);
    out
}

/// The lines that differ between `a` (`-`) and `b` (`+`), with a line of
/// context around each run, at most `limit` lines.
fn line_diff(a: &[String], b: &[String], limit: usize) -> String {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let am = &a[prefix..a.len() - suffix];
    let bm = &b[prefix..b.len() - suffix];
    let (n, m) = (am.len(), bm.len());
    // (tag, line): ' ' same, '-' only in a, '+' only in b.
    let mut ops: Vec<(char, &str)> = Vec::new();
    if prefix > 0 {
        ops.push((' ', a[prefix - 1].as_str()));
    }
    if n.saturating_mul(m) <= 25_000_000 {
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        let at = |i: usize, j: usize| i * (m + 1) + j;
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[at(i, j)] = if am[i] == bm[j] {
                    lcs[at(i + 1, j + 1)] + 1
                } else {
                    lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                ops.push((' ', am[i].as_str()));
                i += 1;
                j += 1;
            } else if j < m && (i == n || lcs[at(i, j + 1)] >= lcs[at(i + 1, j)]) {
                ops.push(('+', bm[j].as_str()));
                j += 1;
            } else {
                ops.push(('-', am[i].as_str()));
                i += 1;
            }
        }
    } else {
        ops.extend(am.iter().map(|l| ('-', l.as_str())));
        ops.extend(bm.iter().map(|l| ('+', l.as_str())));
    }
    if suffix > 0 {
        ops.push((' ', a[a.len() - suffix].as_str()));
    }
    // Keep changed lines and one line of context on each side.
    let keep: Vec<bool> = (0..ops.len())
        .map(|k| {
            ops[k].0 != ' '
                || (k > 0 && ops[k - 1].0 != ' ')
                || (k + 1 < ops.len() && ops[k + 1].0 != ' ')
        })
        .collect();
    let mut out = String::new();
    let mut shown = 0;
    let mut gap = false;
    for (k, (tag, line)) in ops.iter().enumerate() {
        if !keep[k] {
            gap = true;
            continue;
        }
        if gap {
            out.push_str("  ...\n");
            gap = false;
        }
        if shown == limit {
            out.push_str("  ... (more lines differ)\n");
            break;
        }
        let _ = writeln!(out, "{tag} {line}");
        shown += 1;
    }
    out
}

/// Runs a plan the way a user would in autocommit: function bodies not
/// checked, one statement at a time (an enum value added by an earlier step
/// is usable by a later one).
async fn apply(db: &TestDb, plan: &Plan) -> Result<(), String> {
    let c = client(db).await;
    c.batch_execute("SET check_function_bodies = false")
        .await
        .map_err(|e| describe_error(&e))?;
    for (i, step) in plan.steps.iter().enumerate() {
        if let Err(e) = c.batch_execute(&step.sql).await {
            return Err(format!(
                "step {} of {} ({:?} {} {}) failed: {}\n    {}",
                i + 1,
                plan.steps.len(),
                step.action,
                step.kind,
                step.object,
                describe_error(&e),
                step.sql
            ));
        }
    }
    Ok(())
}

/// Marking rules every plan keeps.
fn marking_problems(plan: &Plan, forward: Option<Forward>) -> Vec<String> {
    let mut problems = Vec::new();
    for step in &plan.steps {
        if step.action == Action::Drop
            && matches!(step.kind, "table" | "column")
            && !step.destructive
        {
            problems.push(format!(
                "dropping {} {} is not marked destructive: {}",
                step.kind, step.object, step.sql
            ));
        }
    }
    if forward == Some(Forward::Additive) && plan.destructive_count() > 0 {
        let marked: Vec<String> = plan
            .steps
            .iter()
            .filter(|s| s.destructive)
            .map(|s| format!("{} {}: {}", s.kind, s.object, s.sql))
            .collect();
        problems.push(format!(
            "an additive change got {} destructive step(s):\n    {}",
            marked.len(),
            marked.join("\n    ")
        ));
    }
    problems
}

/// Turns `target` into `reference` with the differ's plan and checks they
/// then compare equal. Returns the plan, or a report of what went wrong.
async fn converge(
    direction: &str,
    target: &TestDb,
    reference: &TestDb,
    scope: &Scope,
    forward: Option<Forward>,
) -> Result<Plan, String> {
    let from = load(target, scope).await?;
    let to = load(reference, scope).await?;
    let plan = schema::diff(&from, &to);
    let mut report = String::new();
    let _ = writeln!(report, "== {direction}: plan ==\n{}", plan.script());

    if plan.is_empty() {
        let diff = line_diff(&dump(target).await, &dump(reference).await, 200);
        let _ = writeln!(
            report,
            "== {direction}: the plan is empty, but pg_dump differs (- {}, + {}) ==\n{diff}",
            target.name, reference.name
        );
        return Err(report);
    }
    let mut problems = marking_problems(&plan, forward);

    if let Err(e) = apply(target, &plan).await {
        let _ = writeln!(report, "== {direction}: applying the plan failed ==\n{e}");
        return Err(report);
    }

    let after = load(target, scope).await?;
    let rest = schema::diff(&after, &to);
    if !rest.is_empty() {
        problems.push(format!(
            "after the plan, the differ still sees differences:\n{}",
            rest.script()
        ));
    }
    let (got, want) = (dump(target).await, dump(reference).await);
    if got != want {
        problems.push(format!(
            "after the plan, pg_dump differs (- after the plan, + wanted):\n{}",
            line_diff(&got, &want, 200)
        ));
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        for p in problems {
            let _ = writeln!(report, "== {direction}: {p}");
        }
        Err(report)
    }
}

/// The round-trip property for one change set.
async fn round_trip(name: &str, forward: Forward, base: &str, change: &str) {
    let a = TestDb::new().await.unwrap();
    let b = TestDb::new().await.unwrap();
    let c = TestDb::new().await.unwrap();
    exec(&a, "base on A", base).await;
    exec(&b, "base on B", base).await;
    exec(&c, "base on C", base).await;
    exec(&b, "change on B", change).await;
    assert_ne!(
        dump(&a).await,
        dump(&b).await,
        "change set {name}: the change makes no difference to pg_dump"
    );

    let scope = Scope::user();
    let ahead = converge("forward (A -> B)", &a, &b, &scope, Some(forward)).await;
    let back = converge("backward (B -> C)", &b, &c, &scope, None).await;

    a.drop_database().await.unwrap();
    b.drop_database().await.unwrap();
    c.drop_database().await.unwrap();

    if std::env::var_os("SCHEMA_DIFF_SHOW").is_some() {
        for (direction, side) in [("forward", &ahead), ("backward", &back)] {
            if let Ok(plan) = side {
                println!("== {name} {direction}:\n{}", plan.script());
            }
        }
    }
    match (ahead, back) {
        (Ok(plan), Ok(_)) => {
            insta::assert_snapshot!(format!("{name}_forward"), plan.script());
        }
        (ahead, back) => {
            let mut report = format!("change set {name} does not round-trip\n");
            for side in [ahead, back] {
                match side {
                    Ok(plan) => {
                        let _ = writeln!(report, "(this direction passed)\n{}", plan.script());
                    }
                    Err(e) => report.push_str(&e),
                }
            }
            panic!("{report}");
        }
    }
}

macro_rules! change_set {
    ($name:ident, $forward:ident, $base:expr, $change:expr $(,)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            round_trip(stringify!($name), Forward::$forward, $base, $change).await;
        }
    };
}

// ---------------------------------------------------------------------------
// Schemas and extensions
// ---------------------------------------------------------------------------

change_set!(
    schema_new_with_table,
    Additive,
    "",
    "CREATE SCHEMA app;
     COMMENT ON SCHEMA app IS 'Application tables';
     GRANT USAGE ON SCHEMA app TO authenticated, service_role;
     CREATE TABLE app.settings (
       key text PRIMARY KEY,
       value jsonb NOT NULL DEFAULT '{}'::jsonb,
       updated_at timestamptz NOT NULL DEFAULT now()
     );
     GRANT SELECT ON app.settings TO authenticated;",
);

change_set!(
    extensions_in_extensions_schema,
    Additive,
    "CREATE TABLE public.users (id bigint PRIMARY KEY, name text NOT NULL);",
    "CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA extensions;
     CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;
     ALTER TABLE public.users ADD COLUMN email extensions.citext;
     CREATE INDEX users_name_trgm_idx ON public.users USING gin (name extensions.gin_trgm_ops);",
);

change_set!(
    extension_in_public_schema,
    Additive,
    "CREATE TABLE public.products (id bigint PRIMARY KEY, name text NOT NULL);",
    "CREATE EXTENSION hstore WITH SCHEMA public;
     ALTER TABLE public.products ADD COLUMN attributes public.hstore;
     CREATE INDEX products_attributes_idx ON public.products USING gist (attributes);",
);

// ---------------------------------------------------------------------------
// Types: enums, domains, composite types
// ---------------------------------------------------------------------------

change_set!(
    enum_new,
    Additive,
    "CREATE TABLE public.tasks (id bigint PRIMARY KEY, title text NOT NULL);",
    "CREATE TYPE public.task_status AS ENUM ('todo', 'doing', 'done');
     ALTER TABLE public.tasks ADD COLUMN status public.task_status NOT NULL DEFAULT 'todo';",
);

change_set!(
    enum_value_appended,
    Additive,
    "CREATE TYPE public.task_status AS ENUM ('todo', 'doing', 'done');
     CREATE TABLE public.tasks (
       id bigint PRIMARY KEY,
       status public.task_status NOT NULL DEFAULT 'todo'
     );",
    // The new value is used by a default set after it: it has to be
    // committed before that step runs.
    "ALTER TYPE public.task_status ADD VALUE 'archived';
-- commit
     ALTER TABLE public.tasks ALTER COLUMN status SET DEFAULT 'archived';",
);

change_set!(
    enum_value_inserted_before,
    Additive,
    "CREATE TYPE public.task_status AS ENUM ('todo', 'doing', 'done');
     CREATE TABLE public.tasks (id bigint PRIMARY KEY, status public.task_status);
     CREATE VIEW public.open_tasks AS SELECT id, status FROM public.tasks WHERE status < 'done';",
    "ALTER TYPE public.task_status ADD VALUE 'review' BEFORE 'done';
     ALTER TYPE public.task_status ADD VALUE 'backlog' BEFORE 'todo';",
);

change_set!(
    domain_new_with_check,
    Additive,
    "CREATE TABLE public.contacts (id bigint PRIMARY KEY, name text NOT NULL);",
    "CREATE DOMAIN public.email_address AS text
       CONSTRAINT email_address_format CHECK (VALUE ~ '^[^@\\s]+@[^@\\s]+$');
     CREATE DOMAIN public.percentage AS numeric(5,2) NOT NULL DEFAULT 0
       CHECK (VALUE BETWEEN 0 AND 100);
     ALTER TABLE public.contacts ADD COLUMN email public.email_address;
     ALTER TABLE public.contacts ADD COLUMN discount public.percentage;",
);

change_set!(
    domain_changed,
    Any,
    "CREATE DOMAIN public.positive_int AS integer CONSTRAINT positive_int_check CHECK (VALUE > 0);
     CREATE DOMAIN public.short_text AS text DEFAULT '';
     CREATE TABLE public.stock (id bigint PRIMARY KEY, qty public.positive_int, label public.short_text);",
    "ALTER DOMAIN public.positive_int DROP CONSTRAINT positive_int_check;
     ALTER DOMAIN public.positive_int ADD CONSTRAINT positive_int_check CHECK (VALUE >= 0);
     ALTER DOMAIN public.short_text ADD CONSTRAINT short_text_length CHECK (char_length(VALUE) <= 80);
     ALTER DOMAIN public.short_text SET DEFAULT 'n/a';",
);

change_set!(
    composite_types,
    Additive,
    "CREATE TYPE public.money_amount AS (amount numeric(12,2), currency char(3));
     CREATE TABLE public.customers (id bigint PRIMARY KEY, name text NOT NULL);",
    "CREATE TYPE public.address AS (street text, city text, postal_code text);
     ALTER TABLE public.customers ADD COLUMN billing_address public.address;
     ALTER TYPE public.money_amount ADD ATTRIBUTE rate_date date;
     CREATE FUNCTION public.format_address(a public.address) RETURNS text
       LANGUAGE sql IMMUTABLE
       AS $$ SELECT concat_ws(', ', a.street, a.postal_code || ' ' || a.city) $$;",
);

// ---------------------------------------------------------------------------
// Sequences and tables
// ---------------------------------------------------------------------------

change_set!(
    sequences,
    Any,
    "CREATE SEQUENCE public.invoice_number START 1000;
     CREATE TABLE public.invoices (
       number bigint PRIMARY KEY DEFAULT nextval('public.invoice_number'),
       total numeric(12,2) NOT NULL
     );",
    "ALTER SEQUENCE public.invoice_number INCREMENT BY 10 MINVALUE 1000 MAXVALUE 9999999 CACHE 5;
     CREATE SEQUENCE public.ticket_number AS integer START 1 CYCLE;
     CREATE TABLE public.tickets (
       number integer PRIMARY KEY DEFAULT nextval('public.ticket_number'),
       subject text NOT NULL
     );
     ALTER SEQUENCE public.ticket_number OWNED BY public.tickets.number;",
);

change_set!(
    table_new_with_identity_and_generated,
    Additive,
    "",
    "CREATE TABLE public.orders (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       quantity integer NOT NULL,
       unit_price numeric(10,2) NOT NULL,
       total numeric(12,2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
       note text,
       created_at timestamptz NOT NULL DEFAULT now()
     );
     CREATE TABLE public.order_events (
       id bigserial PRIMARY KEY,
       order_id bigint NOT NULL REFERENCES public.orders (id),
       payload jsonb,
       at timestamptz DEFAULT now()
     );",
);

change_set!(
    table_dropped,
    Any,
    "CREATE TABLE public.accounts (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL);
     CREATE TABLE public.legacy_sessions (
       id bigserial PRIMARY KEY,
       account_id bigint REFERENCES public.accounts (id) ON DELETE CASCADE,
       token text NOT NULL UNIQUE,
       expires_at timestamptz
     );
     CREATE INDEX legacy_sessions_expires_idx ON public.legacy_sessions (expires_at);
     COMMENT ON TABLE public.legacy_sessions IS 'replaced by auth.sessions';",
    "DROP TABLE public.legacy_sessions;",
);

// A log table partitioned by month: a new partition, an index on the
// parent (created on every partition), a new partitioned table.
change_set!(
    partitioned_tables,
    Additive,
    "CREATE TABLE public.logs (
       id uuid NOT NULL DEFAULT gen_random_uuid(),
       at timestamptz NOT NULL,
       level text NOT NULL,
       message text,
       PRIMARY KEY (id, at)
     ) PARTITION BY RANGE (at);
     CREATE TABLE public.logs_2025_01 PARTITION OF public.logs
       FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');",
    "CREATE TABLE public.logs_2025_02 PARTITION OF public.logs
       FOR VALUES FROM ('2025-02-01') TO ('2025-03-01');
     CREATE INDEX logs_level_idx ON public.logs (level, at);
     CREATE TABLE public.metrics (name text NOT NULL, value double precision, tenant text NOT NULL)
       PARTITION BY LIST (tenant);
     CREATE TABLE public.metrics_acme PARTITION OF public.metrics FOR VALUES IN ('acme');
     CREATE TABLE public.metrics_other PARTITION OF public.metrics DEFAULT;",
);

// ---------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------

change_set!(
    columns_added_and_dropped,
    Any,
    "CREATE TABLE public.profiles (id uuid PRIMARY KEY, username text NOT NULL, age integer, bio text);",
    "ALTER TABLE public.profiles DROP COLUMN bio;
     ALTER TABLE public.profiles ADD COLUMN website text;
     ALTER TABLE public.profiles ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
     ALTER TABLE public.profiles ADD COLUMN tags text[] NOT NULL DEFAULT '{}';",
);

change_set!(
    column_type_changed,
    Any,
    "CREATE TABLE public.items (
       id integer PRIMARY KEY,
       price integer,
       code varchar(10),
       quantity text,
       seen_at timestamp
     );
     CREATE TABLE public.item_notes (id integer PRIMARY KEY, item_id integer REFERENCES public.items (id), body text);",
    "ALTER TABLE public.item_notes ALTER COLUMN item_id TYPE bigint;
     ALTER TABLE public.items ALTER COLUMN id TYPE bigint;
     ALTER TABLE public.items ALTER COLUMN price TYPE numeric(12,2);
     ALTER TABLE public.items ALTER COLUMN code TYPE varchar(32);
     ALTER TABLE public.items ALTER COLUMN quantity TYPE integer USING quantity::integer;
     ALTER TABLE public.items ALTER COLUMN seen_at TYPE timestamptz;",
);

// A column read by views: the user drops and recreates the views around
// the change, and so must the plan (with their grants and comments).
const MEASUREMENT_VIEWS: &str = "
CREATE VIEW public.latest_measurements AS SELECT id, sensor, value FROM public.measurements WHERE id > 100;
CREATE VIEW public.sensor_summary AS SELECT sensor, avg(value) AS average, max(value) AS peak FROM public.latest_measurements GROUP BY sensor;
REVOKE ALL ON public.sensor_summary FROM anon;
GRANT SELECT ON public.sensor_summary TO anon;
COMMENT ON VIEW public.latest_measurements IS 'recent rows only';
";

change_set!(
    column_type_changed_under_a_view,
    Any,
    &format!(
        "CREATE TABLE public.measurements (id bigint PRIMARY KEY, sensor text NOT NULL, value real);
         {MEASUREMENT_VIEWS}"
    ),
    &format!(
        "DROP VIEW public.sensor_summary;
         DROP VIEW public.latest_measurements;
         ALTER TABLE public.measurements ALTER COLUMN value TYPE double precision;
         {MEASUREMENT_VIEWS}"
    ),
);

change_set!(
    column_defaults,
    Any,
    "CREATE TABLE public.posts (
       id bigint PRIMARY KEY,
       title text DEFAULT 'untitled',
       status text,
       created_at timestamptz,
       views integer DEFAULT 0
     );",
    "ALTER TABLE public.posts ALTER COLUMN title DROP DEFAULT;
     ALTER TABLE public.posts ALTER COLUMN status SET DEFAULT 'draft';
     ALTER TABLE public.posts ALTER COLUMN created_at SET DEFAULT now();
     ALTER TABLE public.posts ALTER COLUMN views SET DEFAULT 1;",
);

change_set!(
    column_not_null,
    Any,
    "CREATE TABLE public.comments (id bigint PRIMARY KEY, body text, author text NOT NULL, parent_id bigint);",
    "ALTER TABLE public.comments ALTER COLUMN body SET NOT NULL;
     ALTER TABLE public.comments ALTER COLUMN author DROP NOT NULL;",
);

change_set!(
    column_identity_added,
    Any,
    "CREATE TABLE public.events (id bigint NOT NULL PRIMARY KEY, name text NOT NULL);
     CREATE TABLE public.audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text);",
    "ALTER TABLE public.events ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
     ALTER TABLE public.audit ALTER COLUMN id SET GENERATED BY DEFAULT;",
);

// ---------------------------------------------------------------------------
// Constraints and indexes
// ---------------------------------------------------------------------------

change_set!(
    constraints_added,
    Additive,
    "CREATE TABLE public.authors (id bigint, email text);
     CREATE TABLE public.books (id bigint PRIMARY KEY, author_id bigint, isbn text, pages integer);",
    "ALTER TABLE public.authors ADD PRIMARY KEY (id);
     ALTER TABLE public.authors ADD UNIQUE (email);
     ALTER TABLE public.books ADD CONSTRAINT books_author_id_fkey
       FOREIGN KEY (author_id) REFERENCES public.authors (id) ON DELETE CASCADE;
     ALTER TABLE public.books ADD CONSTRAINT books_isbn_key UNIQUE (isbn);
     ALTER TABLE public.books ADD CONSTRAINT books_pages_check CHECK (pages > 0);",
);

change_set!(
    constraints_changed_and_exclusion,
    Any,
    "CREATE TABLE public.rooms (id bigint PRIMARY KEY, name text NOT NULL);
     CREATE TABLE public.bookings (
       id bigint PRIMARY KEY,
       room_id bigint REFERENCES public.rooms (id) ON DELETE CASCADE,
       guests integer CONSTRAINT bookings_guests_check CHECK (guests > 0),
       during tstzrange NOT NULL
     );",
    "ALTER TABLE public.bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&);
     ALTER TABLE public.bookings DROP CONSTRAINT bookings_guests_check;
     ALTER TABLE public.bookings ADD CONSTRAINT bookings_guests_check CHECK (guests BETWEEN 1 AND 12);
     ALTER TABLE public.bookings DROP CONSTRAINT bookings_room_id_fkey;
     ALTER TABLE public.bookings ADD CONSTRAINT bookings_room_id_fkey
       FOREIGN KEY (room_id) REFERENCES public.rooms (id) ON DELETE SET NULL;",
);

change_set!(
    indexes,
    Any,
    "CREATE TABLE public.members (
       id bigint PRIMARY KEY,
       email text NOT NULL,
       name text,
       created_at timestamptz NOT NULL DEFAULT now(),
       deleted_at timestamptz
     );
     CREATE INDEX members_name_idx ON public.members (name);",
    "CREATE INDEX members_created_at_idx ON public.members (created_at DESC);
     CREATE INDEX members_active_idx ON public.members (email) WHERE deleted_at IS NULL;
     CREATE INDEX members_lower_email_idx ON public.members (lower(email));
     CREATE UNIQUE INDEX members_email_key ON public.members (email);
     DROP INDEX public.members_name_idx;
     CREATE INDEX members_name_idx ON public.members (name, created_at);",
);

// ---------------------------------------------------------------------------
// Views and materialized views
// ---------------------------------------------------------------------------

change_set!(
    views,
    Any,
    "CREATE TABLE public.people (id bigint PRIMARY KEY, name text NOT NULL, active boolean NOT NULL DEFAULT true, country text);
     CREATE VIEW public.people_names AS SELECT id, name FROM public.people;",
    "CREATE OR REPLACE VIEW public.people_names AS SELECT id, name FROM public.people WHERE active;
     CREATE VIEW public.active_people WITH (security_invoker = true) AS
       SELECT id, name, country FROM public.people WHERE active;
     CREATE VIEW public.active_people_by_country AS
       SELECT country, count(*) AS people FROM public.active_people GROUP BY country;",
);

// The Supabase security advisor's fix for views that bypass RLS.
change_set!(
    view_options_changed,
    Any,
    "CREATE TABLE public.orders (id bigint PRIMARY KEY, customer uuid, total numeric(12,2));
     CREATE VIEW public.order_totals AS SELECT customer, sum(total) AS total FROM public.orders GROUP BY customer;
     CREATE VIEW public.big_orders WITH (security_barrier = true) AS SELECT id, total FROM public.orders WHERE total > 1000;",
    "ALTER VIEW public.order_totals SET (security_invoker = true);
     ALTER VIEW public.big_orders RESET (security_barrier);",
);

change_set!(
    materialized_views,
    Any,
    "CREATE TABLE public.page_views (id bigint PRIMARY KEY, path text NOT NULL, at timestamptz NOT NULL);
     CREATE MATERIALIZED VIEW public.views_per_path AS SELECT path, count(*) AS n FROM public.page_views GROUP BY path;",
    "CREATE MATERIALIZED VIEW public.daily_views AS
       SELECT date_trunc('day', at) AS day, count(*) AS n FROM public.page_views GROUP BY 1
       WITH NO DATA;
     CREATE UNIQUE INDEX daily_views_day_idx ON public.daily_views (day);
     DROP MATERIALIZED VIEW public.views_per_path;
     CREATE MATERIALIZED VIEW public.views_per_path AS
       SELECT path, count(*) AS n, max(at) AS last_at FROM public.page_views GROUP BY path;
     CREATE INDEX views_per_path_n_idx ON public.views_per_path (n);",
);

// ---------------------------------------------------------------------------
// Functions and triggers
// ---------------------------------------------------------------------------

change_set!(
    functions,
    Any,
    "CREATE TABLE public.scores (id bigint PRIMARY KEY, user_id uuid, points integer NOT NULL);
     CREATE FUNCTION public.add_points(a integer, b integer) RETURNS integer
       LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
     CREATE FUNCTION public.total_points(uid uuid) RETURNS bigint
       LANGUAGE plpgsql STABLE AS $$
       BEGIN
         RETURN (SELECT sum(points) FROM public.scores WHERE user_id = uid);
       END
       $$;",
    "CREATE OR REPLACE FUNCTION public.total_points(uid uuid) RETURNS bigint
       LANGUAGE plpgsql STABLE AS $$
       BEGIN
         RETURN coalesce((SELECT sum(points) FROM public.scores WHERE user_id = uid), 0);
       END
       $$;
     DROP FUNCTION public.add_points(integer, integer);
     CREATE FUNCTION public.add_points(a integer, b integer, c integer DEFAULT 0) RETURNS integer
       LANGUAGE sql IMMUTABLE AS $$ SELECT a + b + c $$;
     CREATE FUNCTION public.top_scores(n integer DEFAULT 10)
       RETURNS TABLE (user_id uuid, points integer)
       LANGUAGE sql STABLE AS $$ SELECT user_id, points FROM public.scores ORDER BY points DESC LIMIT n $$;
     CREATE PROCEDURE public.reset_scores(IN uid uuid)
       LANGUAGE plpgsql AS $$
       BEGIN
         DELETE FROM public.scores WHERE user_id = uid;
       END
       $$;
     CREATE FUNCTION public.is_admin() RETURNS boolean
       LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
       AS $$
       BEGIN
         RETURN coalesce((auth.jwt() -> 'app_metadata' ->> 'role') = 'admin', false);
       END
       $$;
     REVOKE EXECUTE ON FUNCTION public.is_admin() FROM PUBLIC, anon;",
);

// A return type cannot be changed in place: the function is dropped and
// created again, and so is the view that calls it.
change_set!(
    function_return_type_changed,
    Any,
    "CREATE TABLE public.carts (id bigint PRIMARY KEY, items integer NOT NULL DEFAULT 0);
     CREATE FUNCTION public.cart_size(c public.carts) RETURNS integer
       LANGUAGE sql STABLE AS $$ SELECT c.items $$;
     CREATE VIEW public.cart_sizes AS SELECT c.id, public.cart_size(c) AS size FROM public.carts c;",
    "DROP VIEW public.cart_sizes;
     DROP FUNCTION public.cart_size(public.carts);
     CREATE FUNCTION public.cart_size(c public.carts) RETURNS bigint
       LANGUAGE sql STABLE AS $$ SELECT c.items::bigint $$;
     CREATE VIEW public.cart_sizes AS SELECT c.id, public.cart_size(c) AS size FROM public.carts c;",
);

change_set!(
    triggers,
    Any,
    "CREATE TABLE public.documents (
       id bigint PRIMARY KEY,
       status text NOT NULL DEFAULT 'draft',
       body text,
       updated_at timestamptz
     );
     CREATE TABLE public.document_log (id bigserial PRIMARY KEY, document_id bigint, status text);
     CREATE FUNCTION public.log_status() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO public.document_log (document_id, status) VALUES (NEW.id, NEW.status);
         RETURN NEW;
       END
       $$;
     CREATE TRIGGER documents_status_log AFTER UPDATE ON public.documents
       FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
       EXECUTE FUNCTION public.log_status();",
    "CREATE FUNCTION public.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.updated_at := now();
         RETURN NEW;
       END
       $$;
     CREATE TRIGGER documents_touch BEFORE UPDATE ON public.documents
       FOR EACH ROW EXECUTE FUNCTION public.touch_updated_at();
     DROP TRIGGER documents_status_log ON public.documents;
     CREATE TRIGGER documents_status_log AFTER INSERT OR UPDATE OF status ON public.documents
       FOR EACH ROW WHEN (NEW.status <> 'draft')
       EXECUTE FUNCTION public.log_status();",
);

// The usual Supabase pattern: a trigger on `auth.users` (a managed schema)
// that calls a function in `public`.
change_set!(
    trigger_on_auth_users,
    Additive,
    "CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE, full_name text);",
    "CREATE FUNCTION public.handle_new_user() RETURNS trigger
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
       AS $$
       BEGIN
         INSERT INTO public.profiles (id, full_name) VALUES (NEW.id, NEW.raw_user_meta_data ->> 'full_name');
         RETURN NEW;
       END
       $$;
     CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
       FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();",
);

// Storage access rules: policies a user writes on `storage.objects` (a
// managed schema's table) for a bucket of their own.
change_set!(
    policies_on_storage_objects,
    Additive,
    "INSERT INTO storage.buckets (id, name, public) VALUES ('avatars', 'avatars', true);",
    "CREATE POLICY \"Avatar images are publicly accessible\" ON storage.objects
       FOR SELECT USING (bucket_id = 'avatars');
     CREATE POLICY \"Users upload their own avatar\" ON storage.objects
       FOR INSERT TO authenticated
       WITH CHECK (bucket_id = 'avatars' AND (storage.foldername(name))[1] = (SELECT auth.uid()::text));",
);

// ---------------------------------------------------------------------------
// Row level security, grants, default privileges
// ---------------------------------------------------------------------------

change_set!(
    rls_and_policies,
    Any,
    "CREATE TABLE public.notes (id bigint PRIMARY KEY, owner_id uuid NOT NULL, body text, shared boolean NOT NULL DEFAULT false);
     CREATE TABLE public.tags (id bigint PRIMARY KEY, name text NOT NULL);
     ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
     CREATE POLICY \"Owners can read their notes\" ON public.notes
       FOR SELECT TO authenticated USING (auth.uid() = owner_id);
     CREATE POLICY notes_update ON public.notes FOR UPDATE TO authenticated
       USING (auth.uid() = owner_id);",
    "ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;
     ALTER TABLE public.tags ENABLE ROW LEVEL SECURITY;
     CREATE POLICY \"Tags are public\" ON public.tags FOR SELECT TO anon, authenticated USING (true);
     ALTER POLICY \"Owners can read their notes\" ON public.notes
       USING ((SELECT auth.uid()) = owner_id OR shared);
     ALTER POLICY notes_update ON public.notes TO authenticated, service_role
       WITH CHECK ((SELECT auth.uid()) = owner_id);
     CREATE POLICY notes_insert ON public.notes FOR INSERT TO authenticated
       WITH CHECK ((SELECT auth.uid()) = owner_id);
     CREATE POLICY notes_not_banned ON public.notes AS RESTRICTIVE FOR ALL TO authenticated
       USING (coalesce((auth.jwt() ->> 'is_banned')::boolean, false) = false);",
);

change_set!(
    grants,
    Any,
    "CREATE TABLE public.articles (id bigint PRIMARY KEY, title text NOT NULL, body text, author uuid);
     CREATE TABLE public.secrets (id bigint PRIMARY KEY, value text);
     CREATE FUNCTION public.article_count() RETURNS bigint LANGUAGE sql STABLE
       AS $$ SELECT count(*) FROM public.articles $$;",
    "REVOKE ALL ON public.secrets FROM anon, authenticated;
     REVOKE ALL ON public.articles FROM anon;
     GRANT SELECT ON public.articles TO anon;
     REVOKE UPDATE ON public.articles FROM authenticated;
     GRANT UPDATE (title, body) ON public.articles TO authenticated;
     REVOKE EXECUTE ON FUNCTION public.article_count() FROM PUBLIC, anon;",
);

change_set!(
    default_privileges,
    Any,
    "CREATE SCHEMA api;
     GRANT USAGE ON SCHEMA api TO anon, authenticated;",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon;
     ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM authenticated;
     ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO authenticated;
     ALTER DEFAULT PRIVILEGES IN SCHEMA api GRANT SELECT ON TABLES TO anon, authenticated;
     ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
     CREATE TABLE public.reports (id bigint PRIMARY KEY, body text);
     CREATE TABLE api.feed (id bigint PRIMARY KEY, title text);",
);

// ---------------------------------------------------------------------------
// Comments and publications
// ---------------------------------------------------------------------------

change_set!(
    comments,
    Any,
    "CREATE TABLE public.invoices (id bigint PRIMARY KEY, amount numeric(12,2), paid_at timestamptz);
     CREATE FUNCTION public.invoice_total() RETURNS numeric LANGUAGE sql STABLE
       AS $$ SELECT sum(amount) FROM public.invoices $$;
     CREATE TYPE public.invoice_state AS ENUM ('open', 'paid');
     COMMENT ON COLUMN public.invoices.paid_at IS 'when the payment arrived';
     COMMENT ON TYPE public.invoice_state IS 'old comment';",
    "COMMENT ON TABLE public.invoices IS 'Invoices sent to customers';
     COMMENT ON COLUMN public.invoices.amount IS 'Amount in EUR, VAT included';
     COMMENT ON COLUMN public.invoices.paid_at IS NULL;
     COMMENT ON FUNCTION public.invoice_total() IS 'Sum of every invoice''s amount';
     COMMENT ON TYPE public.invoice_state IS 'Lifecycle of an invoice';",
);

change_set!(
    publications,
    Any,
    "CREATE TABLE public.messages (id bigint PRIMARY KEY, room text, body text);
     CREATE TABLE public.rooms (id bigint PRIMARY KEY, name text);
     CREATE TABLE public.presence (user_id uuid PRIMARY KEY, seen_at timestamptz);
     CREATE PUBLICATION app_changes FOR TABLE public.messages;",
    "ALTER PUBLICATION supabase_realtime ADD TABLE public.messages;
     ALTER PUBLICATION app_changes ADD TABLE public.rooms;
     ALTER PUBLICATION app_changes SET (publish = 'insert, update');
     CREATE PUBLICATION presence_changes FOR TABLE public.presence;",
);

// Realtime sends the old row of updates and deletes only with a full
// replica identity.
change_set!(
    replica_identity_full,
    Any,
    "CREATE TABLE public.scores (id bigint PRIMARY KEY, player text NOT NULL, points integer NOT NULL);
     CREATE TABLE public.players (name text NOT NULL, team text, CONSTRAINT players_name_key UNIQUE (name));
     ALTER PUBLICATION supabase_realtime ADD TABLE public.scores;",
    "ALTER TABLE public.scores REPLICA IDENTITY FULL;
     ALTER TABLE public.players REPLICA IDENTITY USING INDEX players_name_key;",
);

// ---------------------------------------------------------------------------
// A realistic change: a small todo app on top of auth.users
// ---------------------------------------------------------------------------

const TODO_BASE: &str = "
CREATE TABLE public.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  username text
);";

const TODO_APP: &str = "
CREATE TYPE public.task_status AS ENUM ('todo', 'in_progress', 'done');

ALTER TABLE public.profiles ADD CONSTRAINT username_length CHECK (char_length(username) >= 3);
ALTER TABLE public.profiles ADD CONSTRAINT profiles_username_key UNIQUE (username);
ALTER TABLE public.profiles ADD COLUMN avatar_url text;
ALTER TABLE public.profiles ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE public.todos (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES public.profiles (id) ON DELETE CASCADE,
  title text NOT NULL CHECK (char_length(title) > 0),
  status public.task_status NOT NULL DEFAULT 'todo',
  due_on date,
  inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX todos_user_id_idx ON public.todos (user_id);
CREATE INDEX todos_open_due_idx ON public.todos (user_id, due_on) WHERE status <> 'done';

ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY \"Public profiles are viewable by everyone\" ON public.profiles
  FOR SELECT USING (true);
CREATE POLICY \"Users can update own profile\" ON public.profiles
  FOR UPDATE TO authenticated
  USING ((SELECT auth.uid()) = id) WITH CHECK ((SELECT auth.uid()) = id);
CREATE POLICY \"Users manage their own todos\" ON public.todos
  FOR ALL TO authenticated
  USING ((SELECT auth.uid()) = user_id) WITH CHECK ((SELECT auth.uid()) = user_id);

CREATE FUNCTION public.handle_updated_at() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
  AS $$
  BEGIN
    NEW.updated_at := now();
    RETURN NEW;
  END
  $$;
CREATE TRIGGER profiles_updated_at BEFORE UPDATE ON public.profiles
  FOR EACH ROW EXECUTE FUNCTION public.handle_updated_at();

CREATE FUNCTION public.open_todo_count(uid uuid) RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
  AS $$ SELECT count(*) FROM public.todos WHERE user_id = uid AND status <> 'done' $$;
REVOKE EXECUTE ON FUNCTION public.open_todo_count(uuid) FROM PUBLIC, anon;

CREATE VIEW public.open_todos WITH (security_invoker = true) AS
  SELECT t.id, t.user_id, p.username, t.title, t.due_on
  FROM public.todos t JOIN public.profiles p ON p.id = t.user_id
  WHERE t.status <> 'done';

REVOKE ALL ON public.todos FROM anon;
REVOKE ALL ON public.open_todos FROM anon;
COMMENT ON TABLE public.todos IS 'One row per task; owned by a profile';
COMMENT ON COLUMN public.todos.due_on IS 'optional due date';
ALTER PUBLICATION supabase_realtime ADD TABLE public.todos;
";

change_set!(realistic_todo_app, Additive, TODO_BASE, TODO_APP);

// ---------------------------------------------------------------------------
// No difference; scopes
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_databases_have_an_empty_plan() {
    let a = TestDb::new().await.unwrap();
    let b = TestDb::new().await.unwrap();
    for db in [&a, &b] {
        exec(db, "base", TODO_BASE).await;
        exec(db, "schema", TODO_APP).await;
    }
    for scope in [Scope::user(), Scope::only(&["public"])] {
        let (ca, cb) = (
            load(&a, &scope).await.unwrap(),
            load(&b, &scope).await.unwrap(),
        );
        let ab = schema::diff(&ca, &cb);
        let ba = schema::diff(&cb, &ca);
        let aa = schema::diff(&ca, &ca);
        assert!(ab.is_empty(), "{scope:?}: A -> B\n{}", ab.script());
        assert!(ba.is_empty(), "{scope:?}: B -> A\n{}", ba.script());
        assert!(aa.is_empty(), "{scope:?}: A -> A\n{}", aa.script());
        assert_eq!(ab.script(), "-- no differences\n");
    }
    // The fixture alone (managed schemas included when named) too.
    let managed = Scope::only(&["auth", "storage", "realtime", "extensions"]);
    let d = schema::diff(
        &load(&a, &managed).await.unwrap(),
        &load(&b, &managed).await.unwrap(),
    );
    assert!(d.is_empty(), "managed schemas: A -> B\n{}", d.script());
    a.drop_database().await.unwrap();
    b.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_schemas_are_left_out_unless_named() {
    let a = TestDb::new().await.unwrap();
    let b = TestDb::new().await.unwrap();
    exec(
        &b,
        "change on B",
        "CREATE TABLE auth.login_audit (id bigint PRIMARY KEY, user_id uuid REFERENCES auth.users (id), at timestamptz DEFAULT now());
         CREATE FUNCTION storage.object_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM storage.objects $$;
         CREATE SCHEMA app;
         CREATE TABLE app.things (id bigint PRIMARY KEY);",
    )
    .await;

    // Every user schema: only `app` differs.
    let user = schema::diff(
        &load(&a, &Scope::user()).await.unwrap(),
        &load(&b, &Scope::user()).await.unwrap(),
    );
    assert!(!user.is_empty());
    for step in &user.steps {
        assert!(
            step.object == "app" || step.object.starts_with("app."),
            "a managed schema leaked into Scope::user(): {:?} {} {}\n{}",
            step.action,
            step.kind,
            step.object,
            user.script()
        );
    }

    // Only public: nothing differs.
    let public = schema::diff(
        &load(&a, &Scope::only(&["public"])).await.unwrap(),
        &load(&b, &Scope::only(&["public"])).await.unwrap(),
    );
    assert!(public.is_empty(), "{}", public.script());

    // Named: auth is compared, and its plan brings the table over.
    let only_auth = Scope::only(&["auth"]);
    let auth = schema::diff(
        &load(&a, &only_auth).await.unwrap(),
        &load(&b, &only_auth).await.unwrap(),
    );
    assert!(
        auth.steps
            .iter()
            .any(|s| s.action == Action::Create && s.object.contains("login_audit")),
        "{}",
        auth.script()
    );
    assert!(
        auth.steps
            .iter()
            .all(|s| !s.object.contains("object_count")),
        "storage leaked into Scope::only(auth):\n{}",
        auth.script()
    );
    apply(&a, &auth).await.unwrap();
    let rest = schema::diff(
        &load(&a, &only_auth).await.unwrap(),
        &load(&b, &only_auth).await.unwrap(),
    );
    assert!(rest.is_empty(), "{}", rest.script());

    a.drop_database().await.unwrap();
    b.drop_database().await.unwrap();
}
