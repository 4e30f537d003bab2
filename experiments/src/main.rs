//! `meshsim`, the command line. Scenario runs, sweeps and checks are added here as the mesh
//! models land; today it only names itself.

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => println!("meshsim {}", env!("CARGO_PKG_VERSION")),
        _ => {
            eprintln!(
                "meshsim {}: no commands yet; the engine's example runs with\n  cargo run --release -p sim --example mm1",
                env!("CARGO_PKG_VERSION")
            );
            std::process::exit(2);
        }
    }
}
