fn main() {
    eprintln!("gotd {}: not yet implemented", gotd::VERSION);
    std::process::exit(1);
}
