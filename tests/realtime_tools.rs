//! End-to-end tests of the `realtime` group against a real test database:
//! publications (add/remove round trip, creating `supabase_realtime`, the
//! replica identity checks), replica identity (check, set, confirmation for
//! FULL on a large table), replication status with a real logical slot
//! (when the server runs with wal_level = logical), and the channel
//! authorization policies on `realtime.messages`.

mod common;

use common::*;
use serde_json::{Value, json};
use supabase_mcp::pg::testdb::TestDb;
use tokio_postgres::{Client, NoTls};

fn ok(r: &Value) -> &Value {
    assert_eq!(status(r), "ok", "{r}");
    data(r)
}

fn warnings(r: &Value) -> String {
    r["structuredContent"]["warnings"].to_string()
}

/// A server with the realtime group on a fresh database prepared with `sql`.
async fn start(sql: &str) -> (Server, Client) {
    let db = TestDb::new().await.unwrap();
    let c = db.client().await.unwrap();
    if !sql.is_empty() {
        c.batch_execute(sql).await.unwrap();
    }
    let s = Server::start(Some(db), &["--features", "realtime"]).await;
    (s, c)
}

async fn published(c: &Client, publication: &str) -> Vec<String> {
    c.query(
        "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
        &[&publication],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn identity(c: &Client, table: &str) -> String {
    c.query_one(
        "SELECT relreplident::text FROM pg_class WHERE oid = $1::text::regclass",
        &[&table],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_belong_to_the_realtime_group() {
    let db = TestDb::new().await.unwrap();
    let mut s = Server::start(Some(db), &[]).await;
    let r = s.call("list_publications", json!({})).await;
    assert_eq!(error_code(&r), "not_configured", "{r}");
    assert!(text(&r).contains("realtime"), "{}", text(&r));

    let mut s = Server::start(None, &["--features", "realtime"]).await;
    let tools = s.tools().await;
    let get = |n: &str| {
        tools
            .iter()
            .find(|t| t["name"] == n)
            .unwrap_or_else(|| panic!("{n} not listed"))
            .clone()
    };
    for n in [
        "list_publications",
        "check_replica_identity",
        "replication_status",
        "list_channel_policies",
    ] {
        assert_eq!(get(n)["annotations"]["readOnlyHint"], true, "{n}");
    }
    for n in [
        "add_table_to_realtime",
        "remove_table_from_realtime",
        "set_replica_identity",
    ] {
        let t = get(n);
        assert!(t["annotations"]["readOnlyHint"].is_null(), "{t}");
        assert!(t["description"].as_str().unwrap().len() < 100, "{t}");
    }
    assert_eq!(
        get("add_table_to_realtime")["annotations"]["destructiveHint"],
        false
    );
    assert_eq!(
        get("remove_table_from_realtime")["annotations"]["destructiveHint"],
        false
    );
    let set = get("set_replica_identity");
    assert_eq!(
        set["inputSchema"]["properties"]["identity"]["enum"],
        json!(["default", "full", "index"])
    );
    assert!(set["inputSchema"]["properties"]["confirmation_token"].is_object());

    // Read-only mode hides the writes.
    let mut s = Server::start(None, &["--features", "realtime", "--read-only"]).await;
    let names: Vec<String> = s
        .tools()
        .await
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.contains(&"list_publications".to_owned()));
    assert!(!names.contains(&"add_table_to_realtime".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_go_into_and_out_of_the_realtime_publication() {
    let (mut s, c) = start(
        "CREATE TABLE public.chat (id bigint PRIMARY KEY, body text); \
         CREATE TABLE public.secure_chat (id bigint PRIMARY KEY, body text); \
         ALTER TABLE public.secure_chat ENABLE ROW LEVEL SECURITY; \
         CREATE TABLE public.\"Mixed Case\" (id int PRIMARY KEY); \
         CREATE VIEW public.chat_view AS SELECT id FROM public.chat;",
    )
    .await;

    let r = s.call("list_publications", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["realtime"]["exists"], true, "{d}");
    assert_eq!(d["realtime"]["tables"], 0, "{d}");
    let p = &d["publications"][0];
    assert_eq!(p["name"], "supabase_realtime");
    assert_eq!(
        p["publishes"],
        json!({"insert": true, "update": true, "delete": true, "truncate": true})
    );

    // Add: published, with a warning because RLS is off.
    let r = s
        .call("add_table_to_realtime", json!({"table": "chat"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["added"], true);
    assert_eq!(d["created_publication"], false);
    assert_eq!(d["replica_identity"], "default");
    assert!(d["old_record"].as_str().unwrap().contains("(id)"), "{d}");
    assert_eq!(
        d["statements"],
        json!(["ALTER PUBLICATION \"supabase_realtime\" ADD TABLE \"public\".\"chat\""])
    );
    let w = warnings(&r);
    assert!(w.contains("row level security is off"), "{w}");
    assert!(w.contains("anon key"), "{w}");
    assert_eq!(published(&c, "supabase_realtime").await, ["public.chat"]);

    // With RLS on, no warning; a quoted name works.
    let r = s
        .call(
            "add_table_to_realtime",
            json!({"schema": "public", "table": "secure_chat"}),
        )
        .await;
    ok(&r);
    assert!(!warnings(&r).contains("row level security"), "{r}");
    let r = s
        .call("add_table_to_realtime", json!({"table": "Mixed Case"}))
        .await;
    ok(&r);
    assert_eq!(
        published(&c, "supabase_realtime").await,
        ["public.Mixed Case", "public.chat", "public.secure_chat"]
    );

    // Already in.
    let r = s
        .call("add_table_to_realtime", json!({"table": "chat"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("already in publication"), "{}", text(&r));

    // Listed with their identity and old record.
    let r = s
        .call("list_publications", json!({"name": "supabase_realtime"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["realtime"]["tables"], 3);
    let tables = d["publications"][0]["tables"].as_array().unwrap();
    let chat = tables.iter().find(|t| t["table"] == "chat").unwrap();
    assert_eq!(chat["replica_identity"], "default");
    assert_eq!(chat["rls_enabled"], false);
    assert!(chat.get("problem").is_none(), "{chat}");

    // Remove, then remove again.
    let r = s
        .call("remove_table_from_realtime", json!({"table": "chat"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["removed"], true);
    assert_eq!(
        published(&c, "supabase_realtime").await,
        ["public.Mixed Case", "public.secure_chat"]
    );
    let r = s
        .call("remove_table_from_realtime", json!({"table": "chat"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("not in publication"), "{}", text(&r));

    // Unknown tables, case mistakes, views, bad names.
    let r = s
        .call("add_table_to_realtime", json!({"table": "nope"}))
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let r = s
        .call("add_table_to_realtime", json!({"table": "CHAT"}))
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    assert!(text(&r).contains("public.chat"), "{}", text(&r));
    let r = s
        .call("add_table_to_realtime", json!({"table": "chat_view"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("not a table"), "{}", text(&r));
    let r = s.call("add_table_to_realtime", json!({"table": ""})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call("add_table_to_realtime", json!({"table": "x", "extra": 1}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");

    // Without the publication: removing says so, adding creates it.
    c.batch_execute("DROP PUBLICATION supabase_realtime")
        .await
        .unwrap();
    let r = s
        .call(
            "remove_table_from_realtime",
            json!({"table": "secure_chat"}),
        )
        .await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let r = s.call("list_publications", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["realtime"]["exists"], false, "{d}");
    assert!(
        d["realtime"]["note"]
            .as_str()
            .unwrap()
            .contains("add_table_to_realtime")
    );
    let r = s
        .call("add_table_to_realtime", json!({"table": "secure_chat"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["created_publication"], true);
    assert_eq!(
        d["statements"][0],
        "CREATE PUBLICATION \"supabase_realtime\""
    );
    assert_eq!(
        published(&c, "supabase_realtime").await,
        ["public.secure_chat"]
    );

    // The audit log records the writes.
    let audit = std::fs::read_to_string(s.data_path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("add_table_to_realtime"), "{audit}");
    assert!(audit.contains("remove_table_from_realtime"), "{audit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn weak_replica_identities_are_refused_or_flagged() {
    let (mut s, c) = start(
        "CREATE TABLE public.log (at timestamptz, line text); \
         CREATE TABLE public.feed (id int PRIMARY KEY, body text); \
         ALTER TABLE public.feed REPLICA IDENTITY NOTHING; \
         CREATE TABLE public.other (id int PRIMARY KEY, note text, secret text); \
         CREATE PUBLICATION filtered FOR TABLE public.other (id, note) WHERE (id > 10);",
    )
    .await;

    // No primary key: adding would break UPDATE/DELETE, so it is refused...
    let r = s
        .call("add_table_to_realtime", json!({"table": "log"}))
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    assert!(text(&r).contains("UPDATE and DELETE"), "{}", text(&r));
    assert!(text(&r).contains("replica_identity_full"), "{}", text(&r));
    assert!(published(&c, "supabase_realtime").await.is_empty());
    // ...unless the identity becomes FULL in the same transaction.
    let r = s
        .call(
            "add_table_to_realtime",
            json!({"table": "log", "replica_identity_full": true}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["replica_identity"], "full");
    assert_eq!(d["statements"].as_array().unwrap().len(), 2, "{d}");
    assert_eq!(identity(&c, "public.log").await, "f");
    assert_eq!(published(&c, "supabase_realtime").await, ["public.log"]);

    // Published behind the tool's back: flagged with the fix.
    c.batch_execute("ALTER PUBLICATION supabase_realtime ADD TABLE public.feed")
        .await
        .unwrap();
    let r = s.call("list_publications", json!({})).await;
    let d = ok(&r);
    let issues = d["realtime"]["replica_identity_issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{d}");
    assert_eq!(issues[0]["table"], "feed");
    assert!(issues[0]["problem"].as_str().unwrap().contains("NOTHING"));
    assert_eq!(
        issues[0]["fix"],
        "ALTER TABLE \"public\".\"feed\" REPLICA IDENTITY FULL;"
    );
    assert!(warnings(&r).contains("replica identity"), "{r}");

    // PostgreSQL 15 row filters and column lists.
    let other = d["publications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "filtered")
        .unwrap();
    let t = &other["tables"][0];
    assert_eq!(t["table"], "other");
    assert_eq!(t["columns"], json!(["id", "note"]));
    assert!(t["row_filter"].as_str().unwrap().contains("id > 10"), "{t}");

    // `limit` and `name` narrow the listing.
    let r = s.call("list_publications", json!({"name": "nope"})).await;
    assert_eq!(error_code(&r), "not_found", "{r}");
    let r = s
        .call(
            "list_publications",
            json!({"name": "supabase_realtime", "limit": 1}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["publications"][0]["tables"].as_array().unwrap().len(), 1);
    assert_eq!(d["publications"][0]["omitted"], 1);
    let r = s.call("list_publications", json!({"limit": 0})).await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_identity_is_checked_and_set() {
    let (mut s, c) = start(
        "CREATE TABLE public.items (id bigint PRIMARY KEY, sku text NOT NULL, note text); \
         CREATE UNIQUE INDEX items_sku_key ON public.items (sku); \
         CREATE INDEX items_note_idx ON public.items (note); \
         CREATE UNIQUE INDEX items_note_key ON public.items (note); \
         ALTER PUBLICATION supabase_realtime ADD TABLE public.items;",
    )
    .await;

    let r = s
        .call("check_replica_identity", json!({"table": "items"}))
        .await;
    let d = ok(&r);
    assert_eq!(d["replica_identity"], "default");
    assert_eq!(d["primary_key"], json!(["id"]));
    assert_eq!(d["in_realtime"], true);
    assert_eq!(d["publications"], json!(["supabase_realtime"]));
    // note is nullable, so its unique index cannot serve.
    assert_eq!(
        d["candidate_indexes"],
        json!(["items_pkey", "items_sku_key"])
    );
    assert!(
        d["old_record"]
            .as_str()
            .unwrap()
            .contains("primary key (id)")
    );
    for k in ["default", "full", "index", "nothing"] {
        assert!(d["identities"][k].is_string(), "{k}");
    }
    assert_eq!(d["table_size"]["large"], false);

    // A small table: FULL needs no confirmation.
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "items", "identity": "full"}),
        )
        .await;
    let d = ok(&r);
    assert_eq!(d["changed"], true);
    assert_eq!(d["before"], "default");
    assert_eq!(
        d["statement"],
        "ALTER TABLE \"public\".\"items\" REPLICA IDENTITY FULL"
    );
    assert_eq!(identity(&c, "public.items").await, "f");
    // Again: nothing to do.
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "items", "identity": "full"}),
        )
        .await;
    assert_eq!(ok(&r)["changed"], false);

    // USING INDEX: a valid index, then invalid ones.
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "items", "identity": "index", "index": "items_sku_key"}),
        )
        .await;
    assert_eq!(ok(&r)["index"], "items_sku_key");
    assert_eq!(identity(&c, "public.items").await, "i");
    let r = s
        .call("check_replica_identity", json!({"table": "items"}))
        .await;
    assert_eq!(ok(&r)["index"], "items_sku_key");
    for (index, needle) in [
        ("items_note_key", "cannot serve"),
        ("items_note_idx", "cannot serve"),
        ("missing_idx", "cannot serve"),
    ] {
        let r = s
            .call(
                "set_replica_identity",
                json!({"table": "items", "identity": "index", "index": index}),
            )
            .await;
        assert_eq!(error_code(&r), "invalid_arguments", "{index}: {r}");
        assert!(text(&r).contains(needle), "{}", text(&r));
        assert!(text(&r).contains("items_sku_key"), "{}", text(&r));
    }
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "items", "identity": "index"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "items", "identity": "full", "index": "items_sku_key"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "items", "identity": "nothing"}),
        )
        .await;
    assert_eq!(error_code(&r), "invalid_arguments", "{r}");
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "items", "identity": "default"}),
        )
        .await;
    ok(&r);
    assert_eq!(identity(&c, "public.items").await, "d");

    // Dropping the primary key of a published table shows up in the check.
    c.batch_execute("ALTER TABLE public.items DROP CONSTRAINT items_pkey")
        .await
        .unwrap();
    let r = s
        .call("check_replica_identity", json!({"table": "items"}))
        .await;
    let d = ok(&r);
    assert!(d["old_record"].as_str().unwrap().starts_with("none"), "{d}");
    assert!(warnings(&r).contains("fix it now"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn full_identity_on_a_large_table_needs_confirmation() {
    let (mut s, c) = start(
        "CREATE TABLE public.big (v int) WITH (autovacuum_enabled = false); \
         INSERT INTO public.big SELECT generate_series(1, 1100000); \
         ANALYZE public.big;",
    )
    .await;
    let args = json!({"table": "big", "identity": "full"});

    // Not seen before: the handler finds it large and asks.
    let r = s.call("set_replica_identity", args.clone()).await;
    assert_eq!(error_code(&r), "confirmation_required", "{r}");
    let t = text(&r);
    assert!(t.contains("large table"), "{t}");
    assert_eq!(identity(&c, "public.big").await, "d");
    let token = t
        .split_once("confirmation_token \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .unwrap_or_else(|| panic!("no token in {t}"));
    // A token for other arguments is refused.
    let r = s
        .call(
            "set_replica_identity",
            json!({"schema": "public", "table": "big", "identity": "full", "confirmation_token": token}),
        )
        .await;
    assert_eq!(error_code(&r), "confirmation_required", "{r}");
    assert_eq!(identity(&c, "public.big").await, "d");

    // Fresh token, then the confirmed call.
    let r = s.call("set_replica_identity", args.clone()).await;
    assert_eq!(status(&r), "confirmation_required", "{r}");
    let token = data(&r)["confirmation_token"].as_str().unwrap().to_owned();
    assert!(data(&r)["action"].as_str().unwrap().contains("WAL"), "{r}");
    let mut confirmed = args.clone();
    confirmed["confirmation_token"] = json!(token);
    let r = s.call("set_replica_identity", confirmed).await;
    let d = ok(&r);
    assert_eq!(d["changed"], true);
    assert_eq!(d["table_size"]["large"], true);
    assert!(warnings(&r).contains("large"), "{r}");
    assert_eq!(identity(&c, "public.big").await, "f");

    // Back to DEFAULT needs no confirmation.
    let r = s
        .call(
            "set_replica_identity",
            json!({"table": "big", "identity": "default"}),
        )
        .await;
    ok(&r);
    assert_eq!(identity(&c, "public.big").await, "d");
}

/// Drops a replication slot when dropped, whatever happened to the test.
struct SlotGuard {
    url: String,
    name: String,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
                tokio::spawn(conn);
                client
                    .execute(
                        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
                        &[&name],
                    )
                    .await
                    .unwrap();
            });
        })
        .join();
        if done.is_err() {
            eprintln!("could not drop replication slot {}", self.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replication_status_reports_slots_and_settings() {
    let (mut s, c) = start("CREATE TABLE public.t (id int PRIMARY KEY);").await;
    let wal_level: String = c.query_one("SHOW wal_level", &[]).await.unwrap().get(0);

    let r = s.call("replication_status", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["settings"]["wal_level"], wal_level.as_str());
    assert!(d["settings"]["max_replication_slots"].as_i64().unwrap() >= 0);
    assert!(d["settings"]["max_wal_senders"].as_i64().is_some());
    assert!(d["settings"]["max_slot_wal_keep_size"].is_string());
    assert_eq!(d["in_recovery"], false);
    assert!(d["current_wal_lsn"].is_string());
    if wal_level != "logical" {
        assert!(warnings(&r).contains("wal_level"), "{r}");
        eprintln!(
            "SKIPPED the logical slot part of replication_status_reports_slots_and_settings: \
             the server runs with wal_level = {wal_level}; set wal_level = logical (see .ci/run)"
        );
        return;
    }

    let db_name = s.db.as_ref().unwrap().name.clone();
    let slot = format!(
        "smcp_{}",
        db_name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    )
    .to_ascii_lowercase();
    let slot: String = slot.chars().take(60).collect();
    let _guard = SlotGuard {
        url: s.db.as_ref().unwrap().url.clone(),
        name: slot.clone(),
    };
    c.execute(
        "SELECT pg_create_logical_replication_slot($1, 'test_decoding')",
        &[&slot],
    )
    .await
    .unwrap();
    // WAL written after the slot: the slot retains it.
    c.batch_execute("INSERT INTO public.t SELECT generate_series(1, 5000)")
        .await
        .unwrap();

    let r = s.call("replication_status", json!({})).await;
    let d = ok(&r);
    let found = d["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == slot.as_str())
        .unwrap_or_else(|| panic!("slot {slot} not reported: {d}"))
        .clone();
    assert_eq!(found["plugin"], "test_decoding");
    assert_eq!(found["type"], "logical");
    assert_eq!(found["active"], false);
    assert_eq!(found["database"], db_name.as_str());
    assert!(found["restart_lsn"].as_str().unwrap().contains('/'));
    assert!(found["confirmed_flush_lsn"].as_str().unwrap().contains('/'));
    assert!(found["retained_wal_bytes"].as_i64().unwrap() > 0, "{found}");
    assert!(found["lag_bytes"].as_i64().unwrap() > 0, "{found}");
    assert_eq!(
        found["drop_sql"],
        format!("SELECT pg_drop_replication_slot('{slot}');").as_str()
    );
    assert!(found["warning"].as_str().unwrap().contains("inactive"));
    let w = warnings(&r);
    assert!(w.contains(&slot), "{w}");
    assert!(w.contains("pg_drop_replication_slot"), "{w}");
    assert!(d["inactive_slots_holding_wal"].as_i64().unwrap() >= 1);
    // Reported, never dropped.
    let still: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(still, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_policies_are_explained() {
    let (mut s, c) = start("").await;

    // The fixture: RLS on, no policy.
    let r = s.call("list_channel_policies", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["set_up"], true);
    assert_eq!(d["rls_enabled"], true);
    assert_eq!(d["policies"], json!([]));
    assert!(warnings(&r).contains("no policy"), "{r}");

    c.batch_execute(
        "CREATE FUNCTION realtime.topic() RETURNS text LANGUAGE sql STABLE \
           AS $$ SELECT current_setting('realtime.topic', true) $$; \
         CREATE POLICY \"members join rooms\" ON realtime.messages FOR SELECT TO authenticated \
           USING (realtime.topic() = 'room:' || (SELECT auth.uid())::text); \
         CREATE POLICY \"presence only\" ON realtime.messages FOR INSERT TO authenticated \
           WITH CHECK (extension = 'presence');",
    )
    .await
    .unwrap();
    let r = s.call("list_channel_policies", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["topic_function"], true);
    let policies = d["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2, "{d}");
    let join = policies
        .iter()
        .find(|p| p["name"] == "members join rooms")
        .unwrap();
    assert_eq!(join["command"], "SELECT");
    let m = join["meaning"].as_str().unwrap();
    assert!(
        m.starts_with("`authenticated` may join private channels"),
        "{m}"
    );
    assert!(m.contains("topic"), "{m}");
    assert!(m.contains("signed-in user"), "{m}");
    let send = policies
        .iter()
        .find(|p| p["name"] == "presence only")
        .unwrap();
    assert!(
        send["meaning"].as_str().unwrap().contains("Presence only"),
        "{send}"
    );
    assert_eq!(
        d["summary"],
        json!({"someone_may_receive": true, "someone_may_send": true})
    );
    assert_eq!(r["structuredContent"]["warnings"], Value::Null, "{r}");

    c.batch_execute("ALTER TABLE realtime.messages DISABLE ROW LEVEL SECURITY")
        .await
        .unwrap();
    let r = s.call("list_channel_policies", json!({})).await;
    assert!(warnings(&r).contains("not protected"), "{r}");

    // Not set up at all.
    c.batch_execute("DROP TABLE realtime.messages")
        .await
        .unwrap();
    let r = s.call("list_channel_policies", json!({})).await;
    let d = ok(&r);
    assert_eq!(d["set_up"], false);
    assert!(d["reason"].as_str().unwrap().contains("not set up"), "{d}");
    assert!(d["next_step"].is_string());
}
