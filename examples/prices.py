# The module basket.py imports: a breakpoint here binds too, also when the code runs from a
# gateway's mirror of the workspace.
TAX_RATE = 0.25


def price_with_tax(net):
    gross = net * (1 + TAX_RATE)
    return round(gross, 2)
