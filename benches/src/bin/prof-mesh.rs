use benches::mesh::{seed_failover_under_load, simulate};
fn main() {
    let minute = seed_failover_under_load(1000.0, 60);
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(5);
    for _ in 0..n {
        let t = std::time::Instant::now();
        let (r, _) = simulate(&minute);
        println!("{:.0}", r as f64 / t.elapsed().as_secs_f64());
    }
}
