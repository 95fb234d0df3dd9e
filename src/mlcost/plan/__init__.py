"""Planners: memory, cheapest GPU, spot economics, total cost of ownership. Pure: no warehouse."""
