"""A small shop: prices, discounts."""
