fn main() {
    eprintln!("gotsh: not yet implemented");
    std::process::exit(1);
}
