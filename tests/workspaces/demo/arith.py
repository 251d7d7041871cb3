def add(a: int, b: int) -> int:
    """Return the sum of a and b."""
    

def greet(name: str) -> str:
    return "héllo 😀 中文 " + 
