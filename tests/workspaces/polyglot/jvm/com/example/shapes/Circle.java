package com.example.shapes;

/** A circle of radius r. */
public class Circle {
    private final double r;
    public Circle(double r) { this.r = r; }
    public double area() {
        return Math.PI * r * r;
    }
}
