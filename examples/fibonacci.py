def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number.

    >>> [fibonacci(i) for i in range(8)]
    [0, 1, 1, 2, 3, 5, 8, 13]
    """
    if n < 2:
        return n
    
