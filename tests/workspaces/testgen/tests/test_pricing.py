from shop.pricing import discount


def test_quarter_off():
    assert discount(100.0, 25) == 75.0
