"""Commerce: what a live show sells and how a sale reaches the vendor's cart.

Pinned products, flash deals (claims admitted by a stock engine, SQL or Redis, and
recorded in batches), reservations and their holds, the waitlist, coupons, Pasar's
hosted cart, orders reported back by the vendor, and click attribution. ``live.py``'s
``Commerce`` is the object the rest of the app talks to; ``docs/commerce.md`` says
what each guarantee is and how it is kept.
"""
