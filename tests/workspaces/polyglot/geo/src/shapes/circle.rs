pub struct Circle {
    pub r: f64,
}

impl Circle {
    pub fn new(r: f64) -> Self {
        Circle { r }
    }
    pub fn area(&self) -> f64 {
        std::f64::consts::PI * self.r * self.r
    }
}
