"""Prices and discounts."""


def discount(price: float, percent: float) -> float:
    """The price after taking `percent` off; percent must be between 0 and 100.

    >>> discount(200.0, 25)
    150.0
    """
    if percent < 0 or percent > 100:
        raise ValueError("percent must be between 0 and 100")
    if percent == 0:
        return price
    return round(price * (100 - percent) / 100, 2)


def bulk_price(quantity: int, unit: float) -> float:
    """Ten or more items cost 10 % less.

    >>> bulk_price(10, 2.0)
    18.0
    """
    total = quantity * unit
    if quantity > 10:
        total *= 0.9
    return round(total, 2)
