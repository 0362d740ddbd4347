//! What seeding needs to know about tables: columns with their types,
//! nullability and defaults, unique keys, foreign keys and CHECK texts.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::SeedError;

/// A column's type as the generator sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Int {
        min: i64,
        max: i64,
    },
    Numeric {
        precision: Option<u32>,
        scale: u32,
    },
    Float,
    Bool,
    Text {
        max_len: Option<usize>,
    },
    Uuid,
    Date,
    Timestamp,
    Time,
    Interval,
    Json,
    Bytea,
    Inet,
    Enum(Vec<String>),
    Array(Box<Ty>),
    /// A type the generator cannot fill (named).
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub num: i16,
    /// `format_type` output, used as the cast of every value.
    pub sql_type: String,
    pub ty: Ty,
    pub not_null: bool,
    /// Has a default, or is identity or generated: left out of inserts.
    pub defaulted: bool,
}

#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// Child column positions (indexes into `Table::columns`).
    pub columns: Vec<usize>,
    pub parent: (String, String),
    /// Parent column names, in the same order.
    pub parent_columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// Unique keys (primary key, unique constraints and indexes), as
    /// column positions.
    pub uniques: Vec<Vec<usize>>,
    pub foreign_keys: Vec<ForeignKey>,
    /// `pg_get_constraintdef` of each CHECK constraint.
    pub checks: Vec<String>,
}

impl Table {
    pub fn qualified(&self) -> String {
        format!(
            "{}.{}",
            super::ident(&self.schema),
            super::ident(&self.name)
        )
    }
    pub fn key(&self) -> (String, String) {
        (self.schema.clone(), self.name.clone())
    }
}

const COLUMNS: &str = "
SELECT c.oid::int8, n.nspname::text, c.relname::text, a.attnum, a.attname::text,
       format_type(a.atttypid, a.atttypmod),
       a.attnotnull OR t.typnotnull,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' OR (t.typtype = 'd' AND t.typdefault IS NOT NULL),
       bt.typname::text, bt.typtype::text,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       et.typname::text, et.typtype::text,
       CASE WHEN bt.typtype = 'e' THEN (SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = bt.oid)
            WHEN et.typtype = 'e' THEN (SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = et.oid) END
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type t ON t.oid = a.atttypid
  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
  LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY($1)
 ORDER BY n.nspname, c.relname, a.attnum";

const CONSTRAINTS: &str = "
SELECT con.conrelid::int8, con.contype::text, con.conkey, pn.nspname::text, pc.relname::text,
       (SELECT array_agg(pa.attname::text ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY AS k(num, i)
          JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.num),
       pg_get_constraintdef(con.oid)
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class pc ON pc.oid = con.confrelid
  LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE con.contype IN ('f', 'c') AND n.nspname = ANY($1)
 ORDER BY con.conrelid, con.conname";

const UNIQUES: &str = "
SELECT i.indrelid::int8, i.indkey::int2[]
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE i.indisunique AND n.nspname = ANY($1)
 ORDER BY i.indrelid, i.indexrelid";

/// Every ordinary (or partitioned) table of `schemas`, by (schema, name).
pub async fn load(
    client: &Client,
    schemas: &[String],
) -> Result<BTreeMap<(String, String), Table>, SeedError> {
    let mut by_oid: BTreeMap<i64, Table> = BTreeMap::new();
    for r in client
        .query(COLUMNS, &[&schemas])
        .await
        .map_err(|e| SeedError::db("reading columns", e))?
    {
        let oid: i64 = r.get(0);
        let t = by_oid.entry(oid).or_insert_with(|| Table {
            schema: r.get(1),
            name: r.get(2),
            columns: Vec::new(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
        });
        let base: String = r.get(8);
        let typtype: String = r.get(9);
        let typmod: i32 = r.get(10);
        let elem: Option<String> = r.get(11);
        let elem_typtype: Option<String> = r.get(12);
        let labels: Option<Vec<String>> = r.get(13);
        let ty = match elem {
            Some(e) => Ty::Array(Box::new(ty_of(
                &e,
                elem_typtype.as_deref().unwrap_or("b"),
                -1,
                labels,
            ))),
            None => ty_of(&base, &typtype, typmod, labels),
        };
        t.columns.push(Column {
            num: r.get(3),
            name: r.get(4),
            sql_type: r.get(5),
            ty,
            not_null: r.get(6),
            defaulted: r.get(7),
        });
    }
    for r in client
        .query(UNIQUES, &[&schemas])
        .await
        .map_err(|e| SeedError::db("reading unique indexes", e))?
    {
        let oid: i64 = r.get(0);
        let keys: Vec<i16> = r.get(1);
        if let Some(t) = by_oid.get_mut(&oid)
            && let Some(cols) = positions(t, &keys)
        {
            t.uniques.push(cols);
        }
    }
    for r in client
        .query(CONSTRAINTS, &[&schemas])
        .await
        .map_err(|e| SeedError::db("reading constraints", e))?
    {
        let oid: i64 = r.get(0);
        let kind: String = r.get(1);
        let Some(t) = by_oid.get_mut(&oid) else {
            continue;
        };
        if kind == "c" {
            t.checks.push(r.get(6));
            continue;
        }
        let keys: Vec<i16> = r.get(2);
        let (Some(ps), Some(pt), Some(pcols)) = (
            r.get::<_, Option<String>>(3),
            r.get::<_, Option<String>>(4),
            r.get::<_, Option<Vec<String>>>(5),
        ) else {
            continue;
        };
        if let Some(columns) = positions(t, &keys) {
            t.foreign_keys.push(ForeignKey {
                columns,
                parent: (ps, pt),
                parent_columns: pcols,
            });
        }
    }
    Ok(by_oid.into_values().map(|t| (t.key(), t)).collect())
}

fn positions(t: &Table, nums: &[i16]) -> Option<Vec<usize>> {
    nums.iter()
        .map(|n| t.columns.iter().position(|c| c.num == *n))
        .collect()
}

fn ty_of(name: &str, typtype: &str, typmod: i32, labels: Option<Vec<String>>) -> Ty {
    if typtype == "e" {
        return Ty::Enum(labels.unwrap_or_default());
    }
    match name {
        "int2" => Ty::Int {
            min: i16::MIN as i64,
            max: i16::MAX as i64,
        },
        "int4" => Ty::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "int8" => Ty::Int {
            min: i64::MIN,
            max: i64::MAX,
        },
        "numeric" => {
            if typmod >= 4 {
                let m = (typmod - 4) as u32;
                Ty::Numeric {
                    precision: Some((m >> 16) & 0xffff),
                    scale: m & 0xffff,
                }
            } else {
                Ty::Numeric {
                    precision: None,
                    scale: 2,
                }
            }
        }
        "float4" | "float8" => Ty::Float,
        "bool" => Ty::Bool,
        "text" | "citext" | "name" => Ty::Text { max_len: None },
        "varchar" | "bpchar" => Ty::Text {
            max_len: (typmod >= 4).then(|| (typmod - 4) as usize),
        },
        "uuid" => Ty::Uuid,
        "date" => Ty::Date,
        "timestamp" | "timestamptz" => Ty::Timestamp,
        "time" | "timetz" => Ty::Time,
        "interval" => Ty::Interval,
        "json" | "jsonb" => Ty::Json,
        "bytea" => Ty::Bytea,
        "inet" | "cidr" => Ty::Inet,
        other => Ty::Other(other.to_owned()),
    }
}
