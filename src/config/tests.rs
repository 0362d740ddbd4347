//! Precedence and import tests for the configuration.

use super::*;
use crate::cli::Options;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn defaults_without_anything() {
    let cfg = Config::resolve(&Options::default(), None).unwrap();
    assert_eq!(cfg.instances.len(), 1);
    assert_eq!(cfg.instances[0].name, "default");
    assert!(!cfg.instances[0].is_configured());
    assert_eq!(cfg.groups, Group::DEFAULT.to_vec());
    assert_eq!(cfg.limits.output_budget_bytes, 256 * 1024);
    assert_eq!(cfg.limits.query_timeout, Duration::from_secs(30));
    assert!(!cfg.read_only);
    assert_eq!(cfg.http.port, DEFAULT_PORT);
    assert_eq!(cfg.http.bind, "127.0.0.1");
}

#[test]
fn flag_beats_file_beats_env_file_import() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".env",
        "POSTGRES_PASSWORD=frompw\nSERVICE_ROLE_KEY=from-env-file\nANON_KEY=anon-from-env-file\nSUPABASE_PUBLIC_URL=http://envfile:8000\n",
    );
    let cfg_path = write(
        dir.path(),
        "c.toml",
        "read_only = true\n[limits]\nmax_rows = 7\nquery_timeout_secs = 5\n[[instances]]\nname = \"dev\"\nenv_file = \".env\"\nservice_role_key = \"from-file\"\n",
    );
    let opts = Options {
        config: Some(cfg_path),
        max_rows: Some(9),
        supabase_url: Some("http://flag:8000".into()),
        ..Options::default()
    };
    let cfg = Config::resolve(&opts, None).unwrap();
    let inst = &cfg.instances[0];
    assert_eq!(inst.name, "dev");
    assert_eq!(cfg.limits.max_rows, 9, "flag wins over file");
    assert_eq!(
        cfg.limits.query_timeout,
        Duration::from_secs(5),
        "file wins over default"
    );
    assert!(cfg.read_only);
    assert_eq!(
        inst.supabase_url.as_deref(),
        Some("http://flag:8000"),
        "flag wins over .env import"
    );
    assert_eq!(
        inst.service_role_key.as_ref().unwrap().expose(),
        "from-file",
        "file wins over .env import"
    );
    assert_eq!(
        inst.anon_key.as_ref().unwrap().expose(),
        "anon-from-env-file",
        ".env import fills gaps"
    );
    assert!(inst.db_url.as_ref().unwrap().expose().contains("frompw"));
    assert_eq!(inst.mode, Mode::SelfHosted);
}

#[test]
fn database_url_env_is_a_fallback() {
    let cfg = Config::resolve(&Options::default(), Some("postgres://x@h/d".into())).unwrap();
    assert_eq!(
        cfg.instances[0].db_url.as_ref().unwrap().expose(),
        "postgres://x@h/d"
    );
    let opts = Options {
        db_url: Some("postgres://flag@h/d".into()),
        ..Options::default()
    };
    let cfg = Config::resolve(&opts, Some("postgres://x@h/d".into())).unwrap();
    assert_eq!(
        cfg.instances[0].db_url.as_ref().unwrap().expose(),
        "postgres://flag@h/d"
    );
}

#[test]
fn several_instances_default_is_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.toml",
        "[[instances]]\nname = \"dev\"\ndb_url = \"postgres://dev@h/d\"\n[[instances]]\nname = \"prod\"\naccess_token = \"sbp_0123456789abcdef\"\nproject_ref = \"abcdefghijklmnopqrst\"\n",
    );
    let cfg = Config::resolve(
        &Options {
            config: Some(p),
            ..Options::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(cfg.instance(None).unwrap().name, "dev");
    let prod = cfg.instance(Some("prod")).unwrap();
    assert_eq!(prod.mode, Mode::Cloud);
    assert!(cfg.instance(Some("nope")).is_none());
    assert!(cfg.redactor.leaks("token sbp_0123456789abcdef"));
}

#[test]
fn duplicate_instance_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.toml",
        "[[instances]]\nname = \"a\"\n[[instances]]\nname = \"a\"\n",
    );
    let err = Config::resolve(
        &Options {
            config: Some(p),
            ..Options::default()
        },
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unique"));
}

#[test]
fn cli_project_import() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("supabase")).unwrap();
    write(
        &dir.path().join("supabase"),
        "config.toml",
        "[db]\nport = 54329\n",
    );
    let opts = Options {
        cli_project: Some(dir.path().to_owned()),
        ..Options::default()
    };
    let cfg = Config::resolve(&opts, None).unwrap();
    let inst = &cfg.instances[0];
    assert_eq!(
        inst.db_url.as_ref().unwrap().expose(),
        "postgresql://postgres:postgres@127.0.0.1:54329/postgres"
    );
    assert_eq!(inst.supabase_url.as_deref(), Some("http://127.0.0.1:54321"));
}

#[test]
fn unknown_feature_group_fails() {
    let opts = Options {
        features: Some(vec!["database".into(), "bogus".into()]),
        ..Options::default()
    };
    let err = Config::resolve(&opts, None).unwrap_err();
    assert!(err.to_string().contains("bogus") && err.to_string().contains("storage"));
}

#[test]
fn modes_and_validation() {
    let cloud = Options {
        access_token: Some("sbp_token_value_123".into()),
        ..Options::default()
    };
    assert_eq!(
        Config::resolve(&cloud, None).unwrap().instances[0].mode,
        Mode::Cloud
    );
    let bad_mode = Options {
        mode: Some("hybrid".into()),
        ..Options::default()
    };
    assert!(
        Config::resolve(&bad_mode, None)
            .unwrap_err()
            .to_string()
            .contains("hybrid")
    );
    let bad_ref = Options {
        project_ref: Some("Not-A-Ref".into()),
        ..Options::default()
    };
    assert!(
        Config::resolve(&bad_ref, None)
            .unwrap_err()
            .to_string()
            .contains("project ref")
    );
    let short_token = Options {
        http_token: Some("short".into()),
        ..Options::default()
    };
    assert!(Config::resolve(&short_token, None).is_err());
}

#[test]
fn project_ref_may_list_several_projects() {
    let a = "abcdefghijklmnopqrst";
    let b = "bcdefghijklmnopqrstu";
    let opts = |r: &str| Options {
        access_token: Some("sbp_0123456789abcdef".into()),
        project_ref: Some(r.into()),
        ..Options::default()
    };
    let one = Config::resolve(&opts(a), None).unwrap();
    assert_eq!(one.scoped_project_ref(), Some(a));
    assert_eq!(one.allowed_projects(), [a.to_owned()]);

    let two = Config::resolve(&opts(&format!(" {a}, {b} ,{a},")), None).unwrap();
    assert_eq!(two.scoped_project_ref(), None, "no single default project");
    assert_eq!(two.allowed_projects(), [a.to_owned(), b.to_owned()]);
    assert_eq!(two.instances[0].mode, Mode::Cloud);

    let err = Config::resolve(&opts(&format!("{a},Not-A-Ref")), None).unwrap_err();
    assert!(err.to_string().contains("Not-A-Ref"), "{err}");

    let none = Config::resolve(&Options::default(), None).unwrap();
    assert!(none.allowed_projects().is_empty());
}
