def fibonacci(n):
    """Return the n-th Fibonacci number using an iterative loop."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
