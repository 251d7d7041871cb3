mod shapes;
use crate::shapes::circle::Circle;

fn main() {
    let c = Circle::new(2.0);
    println!("{}", c.
}
