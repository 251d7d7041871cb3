def area(shape: dict[str, float]) -> float:
    """Area of a shape read from JSON."""
    return shape["width"] * shape["height"]
