mod pool;
mod protocol;
fn main() {}
