pub fn mean(values: &[f64]) -> f64 {
    
}
