//! Migrations in the Supabase CLI's layout: local files
//! (`supabase/migrations/<version>_<name>.sql`, see [`files`]) and the
//! applied history in `supabase_migrations.schema_migrations`, so a project
//! moves between the CLI, the dashboard and this server without drift.

pub mod apply;
pub mod files;
pub mod history;
