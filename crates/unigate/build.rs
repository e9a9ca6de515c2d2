// The catalog is embedded with include_dir, which cannot tell cargo which files it read
// on stable Rust: without this, editing a YAML file would not rebuild the binary.
fn main() {
    println!("cargo:rerun-if-changed=../../catalog");
    println!("cargo:rerun-if-changed=migrations");
}
