// `sqlx::migrate!` embeds domain/migrations at compile time; without this, a migration added since
// the last build would be left out until some source file changed (sqlx's documented remedy).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
