fn main() {
    eprintln!("gotctl: not yet implemented");
    std::process::exit(1);
}
