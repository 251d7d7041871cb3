def clamp(value: int, low: int, high: int) -> int:
    """Limit value to the range [low, high].

    >>> clamp(5, 0, 3)
    3
    >>> clamp(-1, 0, 3)
    0
    """
    
